// The API as the console uses it: tokens, calls, errors in words, and polling with ETags.
// The access token lives only in this module's memory; the refresh token in sessionStorage,
// so a reload of the tab stays signed in and closing the tab ends the sign-in.

const REFRESH_KEY = "cps.refresh_token";
const auth = { access: null, timer: null, user: null, refreshes: 0 };

export class ApiError extends Error {
  constructor(status, detail, problem) {
    super(detail);
    this.status = status;
    this.problem = problem;
  }
}

export const currentUser = () => auth.user;
export const accessToken = () => auth.access;
export const canWrite = () => ["operator", "admin"].includes(auth.user?.role);

async function errorOf(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    // a body that is not JSON (a proxy's error page): the status line says enough
  }
  const detail = problem?.detail || problem?.title || `${response.status} ${response.statusText}`;
  return new ApiError(response.status, detail, problem);
}

function send(path, { method = "GET", body, etag, token = auth.access } = {}) {
  const headers = { Accept: "application/json, application/geo+json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (etag) headers["If-None-Match"] = etag;
  // no-store: the console keeps answers and ETags itself, so a 304 reaches it as a 304
  return fetch(path, {
    method, headers, cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function sendAuthorised(path, options) {
  let response = await send(path, options);
  if (response.status === 401 && auth.access && (await refresh())) {
    response = await send(path, options);
  }
  return response;
}

/** Call the API; return the parsed JSON (null for 204); throw ApiError with the detail. */
export async function api(path, options = {}) {
  const response = await sendAuthorised(path, options);
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

/** Fetch a binary resource (an evidence image, a tile) with the token; return a Blob. */
export async function apiBlob(path, signal) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${auth.access}` }, signal,
  });
  if (!response.ok) throw await errorOf(response);
  return response.blob();
}

/** A list the console polls: an unchanged answer costs a 304, and keeps the last data. */
export class Feed {
  constructor(url) {
    this.url = url;
    this.etag = null;
    this.data = null;
  }

  setUrl(url) {
    if (url !== this.url) {
      this.url = url;
      this.etag = null;
    }
  }

  /** Return {changed, data}; changed is false when the server answered 304. */
  async poll() {
    const response = await sendAuthorised(this.url, { etag: this.etag });
    if (response.status === 304) return { changed: false, data: this.data };
    if (!response.ok) throw await errorOf(response);
    this.etag = response.headers.get("ETag");
    this.data = await response.json();
    return { changed: true, data: this.data };
  }
}

function accept(tokens) {
  auth.access = tokens.access_token;
  if (tokens.refresh_token) sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  clearTimeout(auth.timer);
  // Refresh at four fifths of the lifetime, so calls never carry an expired token.
  const lifetime = Math.max(tokens.expires_in || 60, 5);
  auth.timer = setTimeout(refresh, lifetime * 800);
}

function forget() {
  clearTimeout(auth.timer);
  auth.access = null;
  auth.user = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

/** Trade the refresh token for a new access token; false if the sign-in has ended. */
export async function refresh() {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  if (!refreshToken) return false;
  const response = await send("/api/auth/refresh", { method: "POST", token: refreshToken });
  if (!response.ok) {
    forget();
    window.dispatchEvent(new CustomEvent("cps:signed-out"));
    return false;
  }
  accept(await response.json());
  auth.refreshes += 1;
  document.body.dataset.tokenRefreshes = String(auth.refreshes);
  return true;
}

/** Sign in with a username and password; return the user. */
export async function login(username, password) {
  const response = await send("/api/auth/login", {
    method: "POST", body: { username, password }, token: null,
  });
  if (!response.ok) throw await errorOf(response);
  accept(await response.json());
  auth.user = await api("/api/auth/me");
  return auth.user;
}

/** Carry on a sign-in of this tab (after a reload); return the user or null. */
export async function resume() {
  if (!(await refresh())) return null;
  auth.user = await api("/api/auth/me");
  return auth.user;
}

/** Log out through the API (revoking both tokens) and forget them here. */
export async function logout() {
  try {
    if (auth.access) await send("/api/auth/logout", { method: "POST" });
  } finally {
    forget();
  }
}
