// Backstage's own catalog client (@backstage/catalog-client) against a running sentier server.
//
// Calls every public method of CatalogClient, asserting what comes back (not just that nothing
// was thrown), and the error classes of refusals. Prints one JSON document on stdout:
//   {client, version, checks: [{method, name, passed, detail}], uncovered: [...]}
// tests/api/test_backstage_client.py starts the server, runs this and asserts the table.
//
// Environment: SENTIER_URL, SENTIER_ADMIN_TOKEN, SENTIER_EDITOR_TOKEN (team-a),
// SENTIER_VIEWER_TOKEN, SENTIER_WORK (a directory this script may write descriptors into).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { CatalogClient, CATALOG_FILTER_EXISTS } = require('@backstage/catalog-client');

const base = process.env.SENTIER_URL;
const admin = { token: process.env.SENTIER_ADMIN_TOKEN };
const editor = { token: process.env.SENTIER_EDITOR_TOKEN };
const viewer = { token: process.env.SENTIER_VIEWER_TOKEN };
const work = process.env.SENTIER_WORK;

const client = new CatalogClient({
  discoveryApi: { getBaseUrl: async pluginId => `${base}/api/${pluginId}` },
  fetchApi: { fetch: (...args) => fetch(...args) },
});

const checks = [];
const called = new Set();

// Record which CatalogClient methods the checks call, through the client itself.
for (const name of Object.getOwnPropertyNames(CatalogClient.prototype)) {
  const original = client[name];
  if (name === 'constructor' || typeof original !== 'function') continue;
  client[name] = function recorded(...args) {
    called.add(name);
    return original.apply(this, args);
  };
}

async function check(method, name, fn) {
  try {
    await fn();
    checks.push({ method, name, passed: true, detail: '' });
  } catch (error) {
    const detail = String((error && error.message) || error).replace(/\s+/g, ' ').slice(0, 600);
    checks.push({ method, name, passed: false, detail });
  }
}

async function rejects(promise, errorName, statusCode) {
  let caught;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught, `expected a ${errorName}, got a result`);
  assert.equal(caught.name, 'ResponseError', `${caught.name}: ${caught.message}`);
  assert.equal(caught.statusCode, statusCode);
  assert.equal(caught.cause.name, errorName, caught.cause.message);
  return caught;
}

const names = entities => entities.map(e => (e ? e.metadata.name : undefined));
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function eventually(what, fn, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const result = await fn();
      if (result) return result;
    } catch (error) {
      last = error;
    }
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

function descriptor(docs) {
  return docs.map(d => JSON.stringify(d)).join('\n---\n') + '\n';
}

function component(name, extra = {}) {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, description: extra.description || `the ${name} service` },
    spec: { type: 'service', lifecycle: 'production', owner: extra.owner || 'team-a' },
  };
}

async function main() {
  // -- reads: lists ------------------------------------------------------------------------------
  await check('getEntities', 'filters OR-ed, conditions AND-ed', async () => {
    const { items } = await client.getEntities(
      { filter: [{ kind: 'component', 'spec.type': 'service' }, { kind: 'api' }] },
      viewer,
    );
    assert.deepEqual(names(items).sort(), ['billing', 'checkout', 'checkout-api', 'search']);
    assert.ok(items.every(e => e.metadata.uid && Array.isArray(e.relations)));
  });
  await check('getEntities', 'several values of one key OR-ed', async () => {
    const { items } = await client.getEntities({ filter: { kind: ['api', 'resource'] } }, viewer);
    assert.deepEqual(names(items).sort(), ['checkout-api', 'orders-db']);
  });
  await check('getEntities', 'CATALOG_FILTER_EXISTS', async () => {
    const { items } = await client.getEntities(
      { filter: { kind: 'component', 'spec.system': CATALOG_FILTER_EXISTS } },
      viewer,
    );
    assert.deepEqual(names(items), ['checkout']);
  });
  await check('getEntities', 'fields and order desc', async () => {
    const { items } = await client.getEntities(
      {
        filter: { kind: 'group' },
        fields: ['metadata.name', 'kind'],
        order: { field: 'metadata.name', order: 'desc' },
      },
      viewer,
    );
    assert.deepEqual(items, [
      { kind: 'Group', metadata: { name: 'team-b' } },
      { kind: 'Group', metadata: { name: 'team-a1' } },
      { kind: 'Group', metadata: { name: 'team-a' } },
    ]);
  });
  await check('getEntities', 'repeated order, missing values last', async () => {
    const { items } = await client.getEntities(
      {
        filter: { kind: ['component', 'system'] },
        order: [
          { field: 'spec.system', order: 'asc' },
          { field: 'metadata.name', order: 'desc' },
        ],
      },
      viewer,
    );
    assert.deepEqual(names(items), ['checkout', 'shop', 'search', 'billing']);
  });
  await check('getEntities', 'offset and limit', async () => {
    const { items } = await client.getEntities(
      { order: { field: 'metadata.name', order: 'asc' }, offset: 2, limit: 3, fields: ['metadata.name'] },
      viewer,
    );
    assert.deepEqual(names(items), ['checkout-api', 'more', 'orders-db']);
  });
  await check('getEntities', 'after cursor from the link header', async () => {
    const response = await fetch(`${base}/api/catalog/entities?limit=4&order=asc:metadata.name&fields=metadata.name`, {
      headers: { authorization: `Bearer ${viewer.token}` },
    });
    const link = response.headers.get('link');
    assert.match(link, /rel="next"/);
    const after = new URL(link.slice(1, link.indexOf('>')), base).searchParams.get('after');
    const { items } = await client.getEntities(
      { after, order: { field: 'metadata.name', order: 'asc' }, fields: ['metadata.name'] },
      viewer,
    );
    assert.deepEqual(names(items), ['orders-db', 'search', 'shop', 'team-a']);
  });

  await check('getEntitiesByRefs', 'order kept, undefined for unknown', async () => {
    const { items } = await client.getEntitiesByRefs(
      { entityRefs: ['api:default/checkout-api', 'component:default/ghost', 'component:default/checkout'] },
      viewer,
    );
    assert.deepEqual(names(items), ['checkout-api', undefined, 'checkout']);
  });
  await check('getEntitiesByRefs', 'with filter and fields', async () => {
    const { items } = await client.getEntitiesByRefs(
      {
        entityRefs: ['component:default/checkout', 'api:default/checkout-api'],
        filter: { kind: 'api' },
        fields: ['metadata.name'],
      },
      viewer,
    );
    assert.deepEqual(items, [undefined, { metadata: { name: 'checkout-api' } }]);
  });
  await check('getEntitiesByRefs', 'with a predicate query', async () => {
    const { items } = await client.getEntitiesByRefs(
      {
        entityRefs: ['component:default/checkout', 'component:default/billing'],
        query: { 'spec.owner': 'team-b' },
      },
      viewer,
    );
    assert.deepEqual(names(items), [undefined, 'billing']);
  });

  await check('queryEntities', 'initial page, then next and previous cursors', async () => {
    const first = await client.queryEntities(
      { filter: { kind: 'group' }, limit: 2, orderFields: { field: 'metadata.name', order: 'asc' } },
      viewer,
    );
    assert.equal(first.totalItems, 3);
    assert.deepEqual(names(first.items), ['team-a', 'team-a1']);
    assert.ok(first.pageInfo.nextCursor && !first.pageInfo.prevCursor);
    const second = await client.queryEntities({ cursor: first.pageInfo.nextCursor }, viewer);
    assert.deepEqual(names(second.items), ['team-b']);
    assert.equal(second.totalItems, 3);
    assert.ok(!second.pageInfo.nextCursor && second.pageInfo.prevCursor);
    const back = await client.queryEntities({ cursor: second.pageInfo.prevCursor, limit: 2 }, viewer);
    assert.deepEqual(names(back.items), ['team-a', 'team-a1']);
  });
  await check('queryEntities', 'descending order field', async () => {
    const page = await client.queryEntities(
      { filter: { kind: 'component' }, orderFields: [{ field: 'metadata.name', order: 'desc' }] },
      viewer,
    );
    assert.deepEqual(names(page.items), ['search', 'checkout', 'billing']);
  });
  await check('queryEntities', 'full-text filter on fields', async () => {
    const page = await client.queryEntities(
      { fullTextFilter: { term: 'CHECK', fields: ['metadata.name'] }, orderFields: { field: 'metadata.name', order: 'asc' } },
      viewer,
    );
    assert.equal(page.totalItems, 2);
    assert.deepEqual(names(page.items), ['checkout', 'checkout-api']);
  });
  await check('queryEntities', 'predicate query, its cursor sent back by POST', async () => {
    const query = { $any: [{ kind: 'api' }, { 'metadata.name': { $hasPrefix: 'bill' } }, { 'spec.type': { $in: ['database'] } }] };
    const first = await client.queryEntities({ query, limit: 2, orderFields: { field: 'metadata.name', order: 'asc' } }, viewer);
    assert.equal(first.totalItems, 3);
    assert.deepEqual(names(first.items), ['billing', 'checkout-api']);
    const next = await client.queryEntities({ cursor: first.pageInfo.nextCursor }, viewer);
    assert.deepEqual(names(next.items), ['orders-db']);
  });
  await check('queryEntities', '$not and $exists', async () => {
    const page = await client.queryEntities(
      { query: { $all: [{ kind: 'component' }, { $not: { 'spec.system': { $exists: true } } }] } },
      viewer,
    );
    assert.deepEqual(names(page.items).sort(), ['billing', 'search']);
  });
  await check('queryEntities', 'malformed predicate is an InputError', async () => {
    await rejects(client.queryEntities({ query: { kind: { $regex: '.*' } } }, viewer), 'InputError', 400);
  });

  await check('streamEntities', 'every entity once, in pages', async () => {
    const pages = [];
    for await (const page of client.streamEntities({ pageSize: 3 }, viewer)) pages.push(page);
    const all = pages.flat().map(e => e.metadata.name);
    assert.ok(pages.length >= 3, `${pages.length} pages`);
    assert.equal(new Set(all).size, all.length);
    assert.equal(all.length, 10);
  });
  await check('streamEntities', 'with a filter and order', async () => {
    const pages = [];
    for await (const page of client.streamEntities(
      { filter: { kind: 'group' }, orderFields: { field: 'metadata.name', order: 'desc' }, pageSize: 1 },
      viewer,
    )) pages.push(names(page));
    assert.deepEqual(pages, [['team-b'], ['team-a1'], ['team-a']]);
  });

  // -- reads: one entity -------------------------------------------------------------------------
  let checkout;
  await check('getEntityByRef', 'string and compound refs', async () => {
    checkout = await client.getEntityByRef('component:default/checkout', viewer);
    assert.equal(checkout.spec.owner, 'team-a');
    const same = await client.getEntityByRef({ kind: 'Component', namespace: 'default', name: 'checkout' }, viewer);
    assert.equal(same.metadata.uid, checkout.metadata.uid);
    assert.ok(checkout.relations.some(r => r.type === 'ownedBy' && r.targetRef === 'group:default/team-a'));
  });
  await check('getEntityByRef', 'unknown is undefined', async () => {
    assert.equal(await client.getEntityByRef('component:default/ghost', viewer), undefined);
  });
  await check('getEntityByName', 'deprecated compound lookup', async () => {
    const entity = await client.getEntityByName({ kind: 'api', namespace: 'default', name: 'checkout-api' }, viewer);
    assert.equal(entity.kind, 'API');
  });
  await check('getEntityAncestors', 'the Location that led to an entity', async () => {
    const response = await client.getEntityAncestors({ entityRef: 'component:default/search' }, viewer);
    assert.equal(response.rootEntityRef, 'component:default/search');
    assert.equal(response.items[0].entity.metadata.name, 'search');
    assert.deepEqual(response.items[0].parentEntityRefs, ['location:default/more']);
    assert.equal(response.items[1].entity.kind, 'Location');
  });
  await check('getEntityAncestors', 'unknown entity is a NotFoundError', async () => {
    await rejects(client.getEntityAncestors({ entityRef: 'component:default/ghost' }, viewer), 'NotFoundError', 404);
  });
  await check('getEntityFacets', 'facets with filter', async () => {
    const { facets } = await client.getEntityFacets({ facets: ['spec.type', 'kind'], filter: { kind: 'component' } }, viewer);
    assert.deepEqual(facets['spec.type'], [{ value: 'service', count: 3 }]);
    assert.deepEqual(facets.kind, [{ value: 'Component', count: 3 }]);
  });
  await check('getEntityFacets', 'facets with a predicate query', async () => {
    const { facets } = await client.getEntityFacets(
      { facets: ['relations.ownedBy'], query: { kind: { $in: ['component', 'api'] } } },
      viewer,
    );
    assert.deepEqual(facets['relations.ownedBy'], [
      { value: 'group:default/team-a', count: 3 },
      { value: 'group:default/team-b', count: 1 },
    ]);
  });

  // -- locations: reads --------------------------------------------------------------------------
  let base_location;
  await check('getLocations', 'the registered source', async () => {
    const { items } = await client.getLocations({}, viewer);
    assert.equal(items.length, 1);
    base_location = items[0];
    assert.equal(base_location.type, 'file');
    assert.match(base_location.entityRef, /^location:default\/generated-[0-9a-f]{40}$/);
  });
  await check('getLocationById', 'known and unknown ids', async () => {
    const location = await client.getLocationById(base_location.id, viewer);
    assert.deepEqual(location, base_location);
    assert.equal(await client.getLocationById('999999', viewer), undefined);
  });
  await check('getLocationByRef', 'type:target', async () => {
    const location = await client.getLocationByRef(`file:${base_location.target}`, viewer);
    assert.equal(location.id, base_location.id);
  });
  await check('getLocationByEntity', 'where an entity comes from', async () => {
    const location = await client.getLocationByEntity('component:default/checkout', viewer);
    assert.equal(location.id, base_location.id);
    assert.equal(await client.getLocationByEntity('component:default/ghost', viewer), undefined);
  });

  // -- validation --------------------------------------------------------------------------------
  await check('validateEntity', 'valid entity', async () => {
    const result = await client.validateEntity(component('fresh'), 'url:https://git.example/fresh/catalog-info.yaml', viewer);
    assert.deepEqual(result, { valid: true });
  });
  await check('validateEntity', 'invalid entity lists its errors', async () => {
    const bad = component('Bad Name!');
    delete bad.spec.owner;
    const result = await client.validateEntity(bad, 'url:https://git.example/x', viewer);
    assert.equal(result.valid, false);
    const messages = result.errors.map(e => e.message).join('\n');
    assert.match(messages, /spec\.owner: required/);
    assert.match(messages, /metadata\.name/);
  });
  await check('validateEntity', 'bad location ref', async () => {
    const result = await client.validateEntity(component('fresh'), 'no-colon-here', viewer);
    assert.equal(result.valid, false);
    assert.match(result.errors[0].message, /location ref/);
  });

  // -- locations: writes -------------------------------------------------------------------------
  const dirA = path.join(work, 'team-a-services');
  const dirB = path.join(work, 'team-a-moved');
  const empty = path.join(work, 'empty-repo');
  fs.mkdirSync(dirA, { recursive: true });
  fs.mkdirSync(dirB, { recursive: true });
  fs.mkdirSync(empty, { recursive: true });
  fs.writeFileSync(path.join(dirA, 'catalog-info.yaml'), descriptor([component('payments'), component('ledger')]));
  fs.writeFileSync(path.join(dirB, 'catalog-info.yaml'), descriptor([component('invoices')]));

  await check('analyzeLocation', 'descriptors found, or a Component to start from', async () => {
    const found = await client.analyzeLocation({ location: { type: 'file', target: dirA } }, admin);
    assert.deepEqual(found.existingEntityFiles.map(f => f.entity.metadata.name), ['payments', 'ledger']);
    assert.ok(found.existingEntityFiles.every(f => f.isRegistered === false && f.location.type === 'file'));
    const none = await client.analyzeLocation({ location: { type: 'file', target: empty } }, admin);
    assert.equal(none.existingEntityFiles.length, 0);
    assert.equal(none.generateEntities[0].entity.metadata.name, 'empty-repo');
    assert.equal(none.generateEntities[0].fields[0].field, 'spec.owner');
  });

  await check('addLocation', 'dryRun returns the entities it would add', async () => {
    const result = await client.addLocation({ type: 'file', target: dirA, dryRun: true }, admin);
    assert.equal(result.exists, false);
    assert.deepEqual(names(result.entities), ['payments', 'ledger']);
    assert.equal(await client.getEntityByRef('component:default/payments', viewer), undefined);
  });
  await check('addLocation', 'viewers may not add', async () => {
    await rejects(client.addLocation({ type: 'file', target: dirA }, viewer), 'NotAllowedError', 403);
  });
  await check('addLocation', 'remote URLs are refused (offline)', async () => {
    await rejects(client.addLocation({ target: 'https://git.example/x/catalog-info.yaml' }, admin), 'InputError', 400);
  });
  let added;
  await check('addLocation', 'registers and ingests', async () => {
    const result = await client.addLocation({ type: 'file', target: dirA }, admin);
    added = result.location;
    assert.equal(added.type, 'file');
    assert.equal(added.target, fs.realpathSync(dirA));
    assert.deepEqual(result.entities, []);
    const entity = await eventually('payments', () => client.getEntityByRef('component:default/payments', viewer));
    assert.equal(entity.spec.owner, 'team-a');
  });
  await check('addLocation', 'twice is a ConflictError, onConflict=refresh is not', async () => {
    await rejects(client.addLocation({ type: 'file', target: dirA }, admin), 'ConflictError', 409);
    const again = await client.addLocation({ type: 'url', target: `file://${dirA}`, onConflict: 'refresh' }, admin);
    assert.equal(again.exists, true);
    assert.equal(again.location.id, added.id);
  });

  await check('refreshEntity', 'the source is read again', async () => {
    fs.writeFileSync(
      path.join(dirA, 'catalog-info.yaml'),
      descriptor([component('payments', { description: 'takes the money' }), component('ledger')]),
    );
    await client.refreshEntity('component:default/payments', editor);
    await eventually('the new description', async () =>
      (await client.getEntityByRef('component:default/payments', viewer)).metadata.description === 'takes the money');
  });
  await check('refreshEntity', 'unknown entity is a NotFoundError; not owned is NotAllowedError', async () => {
    await rejects(client.refreshEntity('component:default/ghost', admin), 'NotFoundError', 404);
    await rejects(client.refreshEntity('component:default/billing', editor), 'NotAllowedError', 403);
  });

  await check('queryLocations', 'predicate and cursor', async () => {
    const first = await client.queryLocations({ query: { type: 'file' }, limit: 1 }, viewer);
    assert.equal(first.totalItems, 2);
    assert.deepEqual(first.items.map(l => l.id), [base_location.id]);
    const next = await client.queryLocations({ cursor: first.pageInfo.nextCursor }, viewer);
    assert.deepEqual(next.items.map(l => l.id), [added.id]);
    assert.equal(next.pageInfo.nextCursor, undefined);
    const none = await client.queryLocations({ query: { target: { $hasPrefix: '/nowhere' } } }, viewer);
    assert.equal(none.totalItems, 0);
  });
  await check('streamLocations', 'every location once', async () => {
    const pages = [];
    for await (const page of client.streamLocations({ limit: 1 }, viewer)) pages.push(page.map(l => l.id));
    assert.deepEqual(pages, [[base_location.id], [added.id]]);
  });

  await check('updateLocation', 'points the location elsewhere', async () => {
    const updated = await client.updateLocation(added.id, { type: 'file', target: dirB }, admin);
    assert.equal(updated.id, added.id);
    assert.equal(updated.target, fs.realpathSync(dirB));
    await eventually('invoices in, payments out', async () =>
      (await client.getEntityByRef('component:default/invoices', viewer)) !== undefined &&
      (await client.getEntityByRef('component:default/payments', viewer)) === undefined);
  });

  await check('removeEntityByUid', 'editors remove what their groups own', async () => {
    const invoices = await client.getEntityByRef('component:default/invoices', viewer);
    await client.removeEntityByUid(invoices.metadata.uid, editor);
    assert.equal(await client.getEntityByRef('component:default/invoices', viewer), undefined);
  });
  await check('removeEntityByUid', 'but not what other groups own', async () => {
    const billing = await client.getEntityByRef('component:default/billing', viewer);
    await rejects(client.removeEntityByUid(billing.metadata.uid, editor), 'NotAllowedError', 403);
    await rejects(client.removeEntityByUid(billing.metadata.uid, viewer), 'NotAllowedError', 403);
    assert.ok(await client.getEntityByRef('component:default/billing', viewer));
  });

  await check('removeLocationById', 'unregisters the location', async () => {
    await client.removeLocationById(added.id, admin);
    assert.equal(await client.getLocationById(added.id, viewer), undefined);
    await rejects(client.removeLocationById(added.id, admin), 'NotFoundError', 404);
  });

  await check('getEntities', 'a wrong token is an AuthenticationError', async () => {
    await rejects(client.getEntities({}, { token: 'snt_nope_nope' }), 'AuthenticationError', 401);
  });
}

main()
  .catch(error => checks.push({ method: '(script)', name: 'ran to the end', passed: false, detail: String(error && error.stack) }))
  .finally(() => {
    const version = require('@backstage/catalog-client/package.json').version;
    const internal = new Set(['constructor', 'requestIgnored', 'requestRequired', 'requestOptional', 'getFilterValue']);
    const methods = Object.getOwnPropertyNames(CatalogClient.prototype).filter(n => !internal.has(n));
    const uncovered = methods.filter(n => !called.has(n));
    process.stdout.write(JSON.stringify({ client: '@backstage/catalog-client', version, methods, checks, uncovered }));
  });
