// TLS material as PEM texts, read from the files the config names (app/security.ts).

/** PEM texts for a TLS client; each undefined when not configured. */
export interface PemSet {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}
