import { describe, expect, it } from 'vitest';
import { clearedSessionCookie, readCookie, SESSION_COOKIE, sessionCookie } from './cookies.ts';

describe('session cookie', () => {
  it('reads the session cookie among others, and nothing from garbage', () => {
    expect(readCookie(`a=1; ${SESSION_COOKIE}=x.y.z; b=2`, SESSION_COOKIE)).toBe('x.y.z');
    expect(readCookie(`${SESSION_COOKIE}="q%20r"`, SESSION_COOKIE)).toBe('q r');
    expect(readCookie('a=1', SESSION_COOKIE)).toBeNull();
    expect(readCookie(undefined, SESSION_COOKIE)).toBeNull();
    expect(readCookie(`${SESSION_COOKIE}=%E0%A4%A`, SESSION_COOKIE)).toBeNull();
    expect(readCookie(`x${SESSION_COOKIE}=1`, SESSION_COOKIE)).toBeNull();
  });

  it('is httpOnly, Secure, SameSite=Strict, expiring with the token; clearing expires it', () => {
    const set = sessionCookie('a.b.c', Date.UTC(2030, 0, 1));
    expect(set).toBe(
      `${SESSION_COOKIE}=a.b.c; Path=/; Expires=Tue, 01 Jan 2030 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict`,
    );
    expect(clearedSessionCookie()).toMatch(
      /^ghostnet_session=; .*Max-Age=0; HttpOnly; Secure; SameSite=Strict$/,
    );
  });
});
