/** How the portal writes a client's details (NHS.UK content style). */

const DATE = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric' });

/** `1941-03-12` → `12 March 1941`; anything else as it is. */
export function formatDate(isoDate: string): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(isoDate) && !Number.isNaN(d.getTime()) ? DATE.format(d) : isoDate;
}

/** `9995260182` → `999 526 0182` (how the NHS writes NHS numbers). */
export function formatNhsNumber(nhs: string): string {
  return /^\d{10}$/.test(nhs) ? `${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)}` : nhs;
}

/** Given name and family name as the provider registered them; undefined without either. */
export function clientName(c: { givenName: string | null; familyName: string | null }): string | undefined {
  const name = [c.givenName, c.familyName]
    .map((n) => n?.trim() ?? '')
    .filter((n) => n !== '')
    .join(' ');
  return name === '' ? undefined : name;
}
