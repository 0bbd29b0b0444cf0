/**
 * A caller's value inside an error message: well-formed, short and quoted.
 * Error messages travel in HTTP/2 trailers; echoing a 70,000-character field
 * (or half a surrogate pair) back would break the response itself.
 */
export function quoteInput(value: string, max = 40): string {
  const wellFormed = value.toWellFormed();
  const cut = wellFormed.length > max ? `${wellFormed.slice(0, max).toWellFormed()}…` : wellFormed;
  return JSON.stringify(cut);
}

/** Bounds a message built from a library's text (e.g. a CEL parse error that quotes the source). */
export function boundedText(text: string, max = 300): string {
  const wellFormed = text.toWellFormed();
  return wellFormed.length > max ? `${wellFormed.slice(0, max).toWellFormed()}…` : wellFormed;
}
