/**
 * A URL's password, in `scheme://user:password@host` form; the password ends at the last `@`
 * before the host part, so an unencoded `@` in it is hidden too. Blanks and quotes end a match:
 * the text may be a URL inside a message or a JSON string.
 */
const URL_PASSWORD = /(\/\/[^:/?#@\s"]*):[^/?#\s"]*@/g;

/**
 * `text` with the password of every URL in it replaced by `***`, for log lines and error
 * messages: `postgres://app:s3cret@db:5432/ship` → `postgres://app:***@db:5432/ship`. Works on
 * strings that are not valid URLs too (the message about a malformed URL must not leak it either).
 */
export function redactUrl(text: string): string {
  return text.replace(URL_PASSWORD, '$1:***@');
}
