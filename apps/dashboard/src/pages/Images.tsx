import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router';
import { fetchImages, type Image } from '../api';
import { formatTime } from '../changes';
import { DataTable } from '../components/DataTable';
import { Async } from '../components/ui';
import { useLoad } from '../hooks';

const col = createColumnHelper<Image>();
const columns = [
  col.accessor('name', {
    header: 'Name',
    cell: (c) => (
      <Link to={`/certification/images/${c.row.original.sha256}`}>{c.getValue() || '(unnamed)'}</Link>
    ),
  }),
  col.accessor((i) => i.version ?? '', { id: 'version', header: 'Version' }),
  col.accessor((i) => i.tags.join(', '), { id: 'tags', header: 'Tags' }),
  col.accessor((i) => i.arch ?? 'detected per run', { id: 'arch', header: 'Arch' }),
  col.accessor('format', { header: 'Format' }),
  col.accessor('size', { header: 'Size', cell: (c) => `${(c.getValue() / 2 ** 20).toFixed(1)} MiB` }),
  col.accessor((i) => i.owner ?? '', { id: 'owner', header: 'Owner' }),
  col.accessor('sha256', {
    header: 'sha256',
    cell: (c) => <span className="mono">{c.getValue().slice(0, 16)}</span>,
  }),
  col.accessor('createdAt', { header: 'Uploaded', cell: (c) => formatTime(c.getValue()) }),
];

export function Images() {
  const images = useLoad('images', fetchImages);
  return (
    <section>
      <h1>Images</h1>
      <Async loaded={images}>
        {(list) => (
          <DataTable
            data={list}
            columns={columns}
            label="images"
            empty="No images: upload one with `vmfarm submit` or PUT /api/images."
            initialSorting={[{ id: 'createdAt', desc: true }]}
          />
        )}
      </Async>
    </section>
  );
}
