/** Inline SVG icons (no icon font: emoji fonts are missing on many systems). */

/** A paper clip: attachments. Decorative unless given a label. */
export function Clip({ label }: { label?: string }) {
  return (
    <svg
      class="icon"
      viewBox="0 0 24 24"
      width="14"
      height="14"
      role={label ? 'img' : undefined}
      aria-label={label}
      aria-hidden={label ? undefined : 'true'}
    >
      {label && <title>{label}</title>}
      <path
        d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5"
        fill="none"
        stroke="currentColor"
        stroke-width="1.8"
        stroke-linecap="round"
      />
    </svg>
  );
}
