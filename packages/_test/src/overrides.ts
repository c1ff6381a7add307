/**
 * `target` with some of its properties replaced, for tests that make a client misbehave in one way. Every other
 * method stays bound to the real object: NATS clients keep their state in private fields, which a method
 * called on the proxy could not reach.
 */
export function withOverrides<T extends object>(
  target: T,
  overrides: { [K in keyof T]?: unknown } & { [key: symbol]: unknown },
): T {
  return new Proxy(target, {
    get(real, property) {
      if (Object.hasOwn(overrides, property)) return (overrides as Record<PropertyKey, unknown>)[property];
      const value = Reflect.get(real, property);
      return typeof value === 'function' ? value.bind(real) : value;
    },
  });
}
