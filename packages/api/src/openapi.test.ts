import { describe, expect, it } from 'vitest';
import { OPENAPI_FILE, openApiIsStale, renderOpenApi } from './openapi.ts';

describe('schemas/openapi.json', () => {
  it('is in sync with the routes (run `npm run openapi -w @ghostnet/api` when this fails)', async () => {
    expect(await openApiIsStale(), OPENAPI_FILE).toBe(false);
  });

  it('documents every route with its input constraints, the error shape and auth', async () => {
    const doc = JSON.parse(await renderOpenApi());
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/auth/nonce',
        '/auth/verify',
        '/users/{address}',
        '/crews',
        '/leaderboard',
        '/game/feed',
      ]),
    );
    const create = doc.paths['/crews'].post;
    expect(create.security).toEqual([{ bearer: [] }, { cookie: [] }]);
    const name = create.requestBody.content['application/json'].schema.properties.name;
    expect(name).toMatchObject({ minLength: 3, maxLength: 24 });
    expect(name.pattern).toBeDefined();
    expect(create.responses['409'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/Error',
    );
    expect(doc.components.securitySchemes.bearer.scheme).toBe('bearer');
  });
});
