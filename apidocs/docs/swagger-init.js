// Swagger UI over the bridge's live /openapi.json (same origin). "Try it
// out" sends the key typed into Authorize; Swagger UI keeps it in memory
// only (persistAuthorization off), never in a URL or localStorage.
window.addEventListener('DOMContentLoaded', () => {
  window.ui = window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: false,
    persistAuthorization: false,
    validatorUrl: null,
    tryItOutEnabled: false,
  });
});
