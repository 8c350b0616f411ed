/**
 * A strict little XML 1.0 reader for tests: elements, attributes, text, comments, CDATA and the
 * predefined and numeric entities. Throws on anything not well formed (unbalanced or crossed tags,
 * unquoted or repeated attributes, bare `&` or `<`, text outside the root element).
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
const ENTITY = /^&(?:lt|gt|amp|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);/;

function checkText(text: string, where: number): void {
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1))
    if (!ENTITY.test(text.slice(i))) throw new Error(`bare '&' at ${where + i}`);
  if (text.includes('<')) throw new Error(`bare '<' near ${where}`);
}

function decode(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#x[0-9A-Fa-f]+|#[0-9]+);/g, (_, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (named[e]) return named[e];
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

export function parseXml(doc: string): XmlElement {
  let pos = 0;
  const declaration = /^<\?xml[^?]*\?>/.exec(doc);
  if (declaration) pos = declaration[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  while (pos < doc.length) {
    const lt = doc.indexOf('<', pos);
    const text = doc.slice(pos, lt < 0 ? doc.length : lt);
    if (stack.length) {
      checkText(text, pos);
      stack[stack.length - 1].text += decode(text);
    } else if (text.trim()) throw new Error(`text outside the root element at ${pos}`);
    if (lt < 0) break;
    pos = lt;
    if (doc.startsWith('<!--', pos)) {
      const end = doc.indexOf('-->', pos + 4);
      if (end < 0) throw new Error(`unterminated comment at ${pos}`);
      pos = end + 3;
    } else if (doc.startsWith('<![CDATA[', pos)) {
      const end = doc.indexOf(']]>', pos);
      if (end < 0 || !stack.length) throw new Error(`bad CDATA at ${pos}`);
      stack[stack.length - 1].text += doc.slice(pos + 9, end);
      pos = end + 3;
    } else if (doc.startsWith('</', pos)) {
      const name = NAME.exec(doc.slice(pos + 2))?.[0];
      const close = /^\s*>/.exec(doc.slice(pos + 2 + (name?.length ?? 0)));
      const open = stack.pop();
      if (!name || !close || !open || open.name !== name)
        throw new Error(`</${name}> at ${pos} does not close <${open?.name}>`);
      pos += 2 + name.length + close[0].length;
    } else {
      const name = NAME.exec(doc.slice(pos + 1))?.[0];
      if (!name) throw new Error(`bad tag at ${pos}`);
      pos += 1 + name.length;
      const el: XmlElement = { name, attrs: {}, children: [], text: '' };
      for (;;) {
        const end = /^\s*(\/?)>/.exec(doc.slice(pos));
        if (end) {
          pos += end[0].length;
          if (stack.length) stack[stack.length - 1].children.push(el);
          else if (root) throw new Error(`second root element <${name}>`);
          else root = el;
          if (!end[1]) stack.push(el);
          break;
        }
        const attr = /^\s+([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(doc.slice(pos));
        if (!attr) throw new Error(`bad attribute in <${name}> at ${pos}`);
        if (attr[1] in el.attrs) throw new Error(`attribute ${attr[1]} twice in <${name}>`);
        const value = attr[3] ?? attr[4];
        checkText(value, pos);
        el.attrs[attr[1]] = decode(value);
        pos += attr[0].length;
      }
    }
  }
  if (stack.length) throw new Error(`<${stack[stack.length - 1].name}> is never closed`);
  if (!root) throw new Error('no root element');
  return root;
}
