// ReDoc over the bridge's live /openapi.json (same origin).
window.addEventListener('DOMContentLoaded', () => {
  window.Redoc.init('/openapi.json', { disableSearch: false }, document.getElementById('redoc-container'));
});
