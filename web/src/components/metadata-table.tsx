import { flattenMetadata } from "../lib/diff";
import { formatValue } from "../lib/format";

export function MetadataTable({ metadata, label = "Metadata" }: { metadata: Record<string, unknown>; label?: string }) {
  const entries = Object.entries(flattenMetadata(metadata)).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <p className="muted">No metadata.</p>;
  return (
    <table className="table table-compact" data-testid="metadata-table">
      <caption className="visually-hidden">{label}</caption>
      <tbody>
        {entries.map(([key, value]) => (
          <tr key={key}>
            <th scope="row">{key}</th>
            <td className="num">{formatValue(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
