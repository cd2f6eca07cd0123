// kms.js - the five KMS operations, forms generated from /openapi.json.
// The calls use the AWS credentials the bridge is configured with
// (docs/kms.md); the console never asks for or keeps AWS credentials.
import { el, status } from './ui.js';
import { renderOps } from './opforms.js';

export async function render(root) {
  const box = el('div', { class: 'card', id: 'kms-box' });
  root.append(el('h2', {}, 'AWS KMS'),
    el('p', { class: 'muted' }, 'Encrypt, decrypt, data key, sign and verify through the bridge, with the bridge\'s own AWS credentials and the caller\'s KMS grants. Binary values are base64.'),
    box);
  await renderOps(box, '/kms/');
  status('kms');
}
