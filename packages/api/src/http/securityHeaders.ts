import helmet from 'helmet';

/**
 * helmet's default security headers, computed once at start and set on every response in one call: running
 * helmet's dozen middlewares per request cost more than some of our routes (measured by bench:api).
 */
export function helmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
    getHeader: (name: string) => headers[name.toLowerCase()],
  };
  let called = false;
  helmet()({ headers: {} } as never, res as never, () => {
    called = true;
  });
  if (!called) throw new Error('helmet did not complete synchronously');
  return headers;
}
