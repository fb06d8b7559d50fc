import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';

interface Operation {
  requestBody?: { required?: boolean; content?: Record<string, { schema?: object }> };
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
}

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  params: string[];
  operation: Operation;
}

export interface CheckedRequest {
  route: string;
  params: Record<string, string>;
}

/**
 * Checks requests against GitHub's official OpenAPI description
 * (@octokit/openapi, the GHES edition: Forgeline talks to `/api/v3` bases):
 * the method and path must be an operation, and a JSON body must match its schema.
 */
export class OpenApiCheck {
  routes: Route[] = [];
  validators = new Map<string, ValidateFunction>();
  ajv = new Ajv({ strict: false, allErrors: true });

  constructor(specFile = '@octokit/openapi/generated/ghes-3.19.deref.json') {
    const spec = createRequire(import.meta.url)(specFile) as { paths: Record<string, Record<string, Operation>> };
    for (const [template, methods] of Object.entries(spec.paths)) {
      const params: string[] = [];
      const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_m, name: string) => {
        params.push(name);
        return '([^/]+)';
      });
      for (const [method, operation] of Object.entries(methods)) {
        this.routes.push({ method: method.toUpperCase(), template, pattern: new RegExp(`^${source}$`), params, operation });
      }
    }
  }

  /** Throws with every mismatch; answers the operation and its path parameters. */
  check(method: string, pathname: string, body: unknown): CheckedRequest {
    const route = this.routes.find((r) => r.method === method && r.pattern.test(pathname));
    if (!route) throw new Error(`${method} ${pathname} is not an operation of GitHub's API`);
    const values = route.pattern.exec(pathname)!.slice(1).map(decodeURIComponent);
    const params = Object.fromEntries(route.params.map((p, i) => [p, values[i]!]));
    const schema = route.operation.requestBody?.content?.['application/json']?.schema;
    // An optional body may be left out altogether.
    if (body === null && !route.operation.requestBody?.required) return { route: `${method} ${route.template}`, params };
    if (schema) {
      const key = `${method} ${route.template}`;
      let validate = this.validators.get(key);
      if (!validate) {
        validate = this.ajv.compile(schema);
        this.validators.set(key, validate);
      }
      if (!validate(body)) {
        throw new Error(`${key}: body does not match GitHub's schema: ${this.ajv.errorsText(validate.errors)}`);
      }
    }
    return { route: `${method} ${route.template}`, params };
  }
}
