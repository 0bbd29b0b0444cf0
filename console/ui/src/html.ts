import htm from 'htm';
import { h } from 'preact';

/** Tagged templates instead of JSX: no compiler plugin, the source is what runs. */
export const html = htm.bind(h);
