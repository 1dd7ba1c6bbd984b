// The C litmus format of the kernel's tools/memory-model and herdtools7: `C name`, an
// init block, `Pn(int *x, ...) { ... }` functions, an optional `locations [...]` and
// `filter`, and an `exists` / `~exists` / `forall` condition. Every refusal is one line
// `file:line:col: what was wrong (what was expected)`, thrown as SlabError EINVAL.
import { SlabError } from '../errors.js';
import type { At, Expr, LitmusTest, Prop, Quantifier, Rloc, Stmt, Thread } from './ast.js';
import { outsideSubset, primSpec } from './prims.js';

interface Token {
  /** id: identifier or keyword; num: integer; str: "..."; p: punctuation; eof */
  t: 'id' | 'num' | 'str' | 'p' | 'eof';
  v: string;
  n: number;
  at: At;
  /** offset of its first character, to lex again in another mode */
  pos: number;
}

/** Longest first. `/\` and `\/` are the condition's and/or. */
const PUNCT = [
  '/\\',
  '\\/',
  '<<=',
  '>>=',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '<<',
  '>>',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '++',
  '--',
  '=>',
  '->',
  ...'{}()[];,*&=<>+-/%^|!~?:.'.split(''),
];

/** C's type words a declaration or parameter may use (all values are 32-bit words here). */
const TYPE_WORDS = new Set([
  'int',
  'unsigned',
  'signed',
  'long',
  'short',
  'char',
  'bool',
  '_Bool',
  'volatile',
  'const',
  'atomic_t',
  'spinlock_t',
  'u8',
  'u16',
  'u32',
  'u64',
  's8',
  's16',
  's32',
  's64',
  'intptr_t',
  'uintptr_t',
]);
const KEYWORDS = new Set(['if', 'else', 'while', 'return', 'for', 'do', 'goto', 'switch', 'break', 'continue']);

class Lexer {
  pos = 0;
  line = 1;
  col = 1;
  /** OCaml-style `(* ... *)` comments: outside P function bodies only (inside, `(*x)` is C) */
  ocaml = true;
  private peeked: Token | null = null;

  constructor(
    readonly text: string,
    readonly file: string,
  ) {}

  fail(at: At, msg: string): never {
    throw new SlabError('EINVAL', `${this.file}:${at.line}:${at.col}: ${msg}`);
  }

  here(): At {
    return { line: this.line, col: this.col };
  }

  private advance(n: number): void {
    for (let i = 0; i < n; i++) {
      if (this.text[this.pos] === '\n') {
        this.line++;
        this.col = 1;
      } else this.col++;
      this.pos++;
    }
  }

  /** Change the comment mode; a token already looked at is read again in the new one. */
  setOcaml(on: boolean): void {
    if (this.ocaml === on) return;
    this.ocaml = on;
    if (this.peeked) {
      this.pos = this.peeked.pos;
      this.line = this.peeked.at.line;
      this.col = this.peeked.at.col;
      this.peeked = null;
    }
  }

  private skip(): void {
    const s = this.text;
    for (;;) {
      const c = s[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f') this.advance(1);
      else if (c === '/' && s[this.pos + 1] === '/') {
        while (this.pos < s.length && s[this.pos] !== '\n') this.advance(1);
      } else if (c === '/' && s[this.pos + 1] === '*') {
        const at = this.here();
        const end = s.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail(at, 'comment /* is never closed (expected */)');
        this.advance(end + 2 - this.pos);
      } else if (this.ocaml && c === '(' && s[this.pos + 1] === '*') {
        const at = this.here();
        let depth = 0;
        do {
          if (this.pos >= s.length) this.fail(at, 'comment (* is never closed (expected *))');
          if (s[this.pos] === '(' && s[this.pos + 1] === '*') {
            depth++;
            this.advance(2);
          } else if (s[this.pos] === '*' && s[this.pos + 1] === ')') {
            depth--;
            this.advance(2);
          } else this.advance(1);
        } while (depth > 0);
      } else return;
    }
  }

  peek(): Token {
    if (!this.peeked) this.peeked = this.lex();
    return this.peeked;
  }

  next(): Token {
    const t = this.peek();
    this.peeked = null;
    return t;
  }

  /** The next run of non-blank characters, as it is (a test's name: `SB+poonceonces`). */
  rawWord(): Token {
    if (this.peeked) this.fail(this.peeked.at, 'internal: raw word after a peek');
    this.skip();
    const at = this.here();
    const pos = this.pos;
    const m = /^[^\s]+/.exec(this.text.slice(this.pos, this.pos + 256));
    if (!m) this.fail(at, 'expected the test name after C');
    this.advance(m[0].length);
    return { t: 'id', v: m[0], n: 0, at, pos };
  }

  private lex(): Token {
    this.skip();
    const at = this.here();
    const pos = this.pos;
    const s = this.text;
    if (pos >= s.length) return { t: 'eof', v: 'end of file', n: 0, at, pos };
    const rest = s.slice(pos, pos + 64);
    let m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (m) {
      this.advance(m[0].length);
      return { t: 'id', v: m[0], n: 0, at, pos };
    }
    m = /^(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*/.exec(rest);
    if (m) {
      if (/^[A-Za-z_]/.test(rest.slice(m[0].length))) this.fail(at, `bad number '${rest.match(/^\w+/)?.[0]}'`);
      this.advance(m[0].length);
      const n = Number(m[1]);
      if (!Number.isSafeInteger(n) || n > 0xffffffff) this.fail(at, `number ${m[1]} does not fit in 32 bits`);
      return { t: 'num', v: m[0], n, at, pos };
    }
    if (s[pos] === '"') {
      const end = s.indexOf('"', pos + 1);
      if (end < 0) this.fail(at, 'string " is never closed');
      this.advance(end + 1 - pos);
      return { t: 'str', v: s.slice(pos, end + 1), n: 0, at, pos };
    }
    for (const p of PUNCT) {
      if (s.startsWith(p, pos)) {
        this.advance(p.length);
        return { t: 'p', v: p, n: 0, at, pos };
      }
    }
    return this.fail(at, `unexpected character '${s[pos]}'`);
  }
}

const show = (t: Token): string => (t.t === 'eof' ? 'end of file' : `'${t.v}'`);

/** Parse one litmus file. Throws SlabError EINVAL with `file:line:col:` on the first problem. */
export function parseLitmus(text: string, file: string): LitmusTest {
  return new Parser(new Lexer(text, file)).test();
}

class Parser {
  private locs: { name: string; init: number; lock: boolean }[] = [];
  private locIndex = new Map<string, number>();
  private regInit = new Map<string, { value: number; at: At }>();
  /** the thread being parsed: its parameters and declared registers */
  private params = new Set<string>();
  private regs: string[] = [];

  constructor(private readonly lx: Lexer) {}

  private fail(at: At, msg: string): never {
    return this.lx.fail(at, msg);
  }

  private expect(v: string, what = `'${v}'`): Token {
    const t = this.lx.next();
    if (t.v !== v || (t.t !== 'p' && t.t !== 'id')) this.fail(t.at, `expected ${what}, found ${show(t)}`);
    return t;
  }

  private accept(v: string): boolean {
    const t = this.lx.peek();
    if ((t.t === 'p' || t.t === 'id') && t.v === v) {
      this.lx.next();
      return true;
    }
    return false;
  }

  private ident(what: string): Token {
    const t = this.lx.next();
    if (t.t !== 'id') this.fail(t.at, `expected ${what}, found ${show(t)}`);
    return t;
  }

  private location(name: string, lock = false): void {
    const i = this.locIndex.get(name);
    if (i === undefined) {
      this.locIndex.set(name, this.locs.length);
      this.locs.push({ name, init: 0, lock });
    } else if (lock) this.locs[i].lock = true;
  }

  test(): LitmusTest {
    const c = this.lx.next();
    if (c.t !== 'id' || c.v !== 'C')
      this.fail(c.at, `expected 'C' and the test's name on the first line (a C litmus test), found ${show(c)}`);
    const name = this.lx.rawWord().v;
    if (this.lx.peek().t === 'str') this.lx.next(); // herdtools' optional doc string
    this.init();
    const threads: Thread[] = [];
    while (/^P\d+$/.test(this.lx.peek().v) && this.lx.peek().t === 'id') threads.push(this.thread());
    const t = this.lx.peek();
    if (threads.length === 0) this.fail(t.at, `expected a P0(...) function, found ${show(t)}`);
    threads.sort((a, b) => a.id - b.id);
    threads.forEach((th, i) => {
      if (th.id !== i)
        this.fail(
          th.at,
          th.id === threads[i - 1]?.id ? `P${th.id} is defined twice` : `P${i} is missing (threads are P0, P1, ...)`,
        );
    });
    const shown: Rloc[] = [];
    let filter: Prop | undefined;
    for (;;) {
      const k = this.lx.peek();
      if (k.t === 'id' && k.v === 'locations') {
        this.lx.next();
        this.expect('[');
        while (!this.accept(']')) {
          shown.push(this.rloc());
          if (!this.accept(';') && this.lx.peek().v !== ']')
            this.fail(this.lx.peek().at, `expected ';' or ']', found ${show(this.lx.peek())}`);
        }
      } else if (k.t === 'id' && k.v === 'filter') {
        this.lx.next();
        filter = this.prop();
      } else break;
    }
    const quantifier = this.quantifier();
    const cond = this.prop();
    const end = this.lx.next();
    if (end.t !== 'eof') this.fail(end.at, `expected the end of the test after the condition, found ${show(end)}`);
    const test: LitmusTest = {
      name,
      file: this.lx.file,
      locations: this.locs,
      regInit: new Map([...this.regInit].map(([k, v]) => [k, v.value])),
      threads,
      show: shown,
      filter,
      quantifier,
      cond,
    };
    for (const [key, { at }] of this.regInit) this.checkRloc(test, regOf(key, at));
    for (const r of shown) this.checkRloc(test, r);
    if (filter) this.checkProp(test, filter);
    this.checkProp(test, cond);
    return test;
  }

  // ---- init block ----

  private init(): void {
    const open = this.lx.next();
    if (open.v !== '{') this.fail(open.at, `expected the init block '{ ... }' after the test's name, found ${show(open)}`);
    for (;;) {
      if (this.accept('}')) return;
      if (this.accept(';')) continue;
      this.initEntry();
      const t = this.lx.peek();
      if (t.v !== ';' && t.v !== '}') this.fail(t.at, `expected ';' or '}' in the init block, found ${show(t)}`);
    }
  }

  private initEntry(): void {
    const first = this.lx.peek();
    if (first.t === 'num') {
      // N:reg=value
      const key = this.regKey();
      this.expect('=');
      this.regInit.set(key.key, { value: this.initValue(), at: key.at });
      return;
    }
    let lock = false;
    let typed = false;
    while (this.lx.peek().t === 'id' && TYPE_WORDS.has(this.lx.peek().v)) {
      lock ||= this.lx.peek().v === 'spinlock_t';
      typed = true;
      this.lx.next();
    }
    if (typed && this.lx.peek().v === '*')
      this.fail(this.lx.peek().at, 'a pointer in the init block is outside the subset (shared locations hold integers)');
    const name = this.ident('a location name');
    if (KEYWORDS.has(name.v) || (TYPE_WORDS.has(name.v) && !typed))
      this.fail(name.at, `expected a location name, found '${name.v}'`);
    if (this.lx.peek().v === '[')
      this.fail(this.lx.peek().at, `array '${name.v}' is outside the subset (one integer per location)`);
    this.location(name.v, lock);
    if (!this.accept('=')) return;
    this.locs[this.locIndex.get(name.v) ?? 0].init = this.initValue();
  }

  /** An integer, `-n`, or ATOMIC_INIT(n). */
  private initValue(): number {
    const t = this.lx.peek();
    if (t.t === 'id' && t.v === 'ATOMIC_INIT') {
      this.lx.next();
      this.expect('(');
      const v = this.intLit();
      this.expect(')');
      return v;
    }
    if (t.t === 'id' || t.v === '&')
      this.fail(t.at, `'${t.v === '&' ? '&' : t.v}': a pointer value is outside the subset (expected an integer)`);
    return this.intLit();
  }

  private intLit(): number {
    const neg = this.accept('-');
    const t = this.lx.next();
    if (t.t !== 'num') this.fail(t.at, `expected an integer, found ${show(t)}`);
    return neg ? -t.n | 0 : t.n | 0;
  }

  private regKey(): { key: string; at: At } {
    const n = this.lx.next();
    if (n.t !== 'num') this.fail(n.at, `expected a thread number, found ${show(n)}`);
    this.expect(':');
    const r = this.ident('a register name');
    return { key: `${n.n}:${r.v}`, at: n.at };
  }

  // ---- threads ----

  private thread(): Thread {
    const head = this.lx.next();
    const id = Number(head.v.slice(1));
    this.params = new Set();
    this.regs = [];
    this.expect('(');
    if (this.accept('void')) this.expect(')');
    else if (!this.accept(')')) {
      do {
        let lock = false;
        const t0 = this.lx.peek();
        if (t0.t !== 'id' || !TYPE_WORDS.has(t0.v))
          this.fail(t0.at, `expected a parameter type such as 'int *' (shared locations are integers), found ${show(t0)}`);
        while (this.lx.peek().t === 'id' && TYPE_WORDS.has(this.lx.peek().v)) lock ||= this.lx.next().v === 'spinlock_t';
        const star = this.lx.next();
        if (star.v !== '*')
          this.fail(star.at, `expected '*': a parameter is a pointer to a shared location, found ${show(star)}`);
        if (this.lx.peek().v === '*')
          this.fail(this.lx.peek().at, 'a pointer-to-pointer parameter is outside the subset (shared locations hold integers)');
        const name = this.ident('a parameter name');
        this.params.add(name.v);
        this.location(name.v, lock);
      } while (this.accept(','));
      this.expect(')');
    }
    this.lx.setOcaml(false);
    const body = this.block();
    this.lx.setOcaml(true);
    return { id, params: [...this.params], body, regs: this.regs, at: head.at };
  }

  private block(): Stmt[] {
    this.expect('{');
    const out: Stmt[] = [];
    while (!this.accept('}')) {
      if (this.lx.peek().t === 'eof') this.fail(this.lx.peek().at, "expected '}' before the end of file");
      out.push(...this.stmt());
    }
    return out;
  }

  /** A statement or a block's statements, as a list (a declaration of several names gives several). */
  private stmt(): Stmt[] {
    const t = this.lx.peek();
    if (t.v === '{' && t.t === 'p') return this.block();
    if (t.t === 'p' && t.v === ';') {
      this.lx.next();
      return [];
    }
    if (t.t === 'id' && TYPE_WORDS.has(t.v)) return this.decl();
    if (t.t === 'id' && t.v === 'if') {
      this.lx.next();
      this.expect('(');
      const c = this.expr();
      this.expect(')');
      const then = this.stmt();
      const other = this.accept('else') ? this.stmt() : [];
      return [{ k: 'if', c, then, else: other, at: t.at }];
    }
    if (t.t === 'id' && t.v === 'while') {
      this.lx.next();
      this.expect('(');
      const c = this.expr();
      this.expect(')');
      return [{ k: 'while', c, body: this.stmt(), at: t.at }];
    }
    if (t.t === 'id' && KEYWORDS.has(t.v))
      this.fail(t.at, `'${t.v}' is outside the subset (statements: declarations, assignments, calls, if/else, while)`);
    const s = this.simple();
    this.expect(';');
    return [s];
  }

  private decl(): Stmt[] {
    while (this.lx.peek().t === 'id' && TYPE_WORDS.has(this.lx.peek().v)) this.lx.next();
    const out: Stmt[] = [];
    do {
      const star = this.lx.peek();
      if (star.v === '*') this.fail(star.at, 'a pointer register is outside the subset (registers hold integers)');
      const name = this.ident('a register name');
      if (this.params.has(name.v)) this.fail(name.at, `'${name.v}' is already a parameter of this function`);
      if (this.lx.peek().v === '[') this.fail(this.lx.peek().at, `array '${name.v}' is outside the subset`);
      if (!this.regs.includes(name.v)) this.regs.push(name.v);
      const init = this.accept('=') ? this.expr() : undefined;
      out.push({ k: 'decl', name: name.v, init, at: name.at });
    } while (this.accept(','));
    this.expect(';');
    return out;
  }

  /** An assignment, a plain store, or an expression evaluated for its effect. */
  private simple(): Stmt {
    const t = this.lx.peek();
    const e = this.expr();
    const op = this.lx.peek();
    if (
      op.t === 'p' &&
      (op.v === '=' ||
        (op.v.length === 2 && op.v.endsWith('=') && '+-*/%&|^'.includes(op.v[0])) ||
        op.v === '<<=' ||
        op.v === '>>=')
    ) {
      this.lx.next();
      let rhs = this.expr();
      if (op.v !== '=') rhs = { k: 'bin', op: op.v.slice(0, -1), a: e, b: rhs, at: op.at };
      if (e.k === 'reg') return { k: 'assign', name: e.name, e: rhs, at: t.at };
      if (e.k === 'deref') return { k: 'store', loc: e.loc, e: rhs, at: t.at };
      this.fail(e.at, 'expected a register or *location on the left of =');
    }
    if (op.t === 'p' && (op.v === '++' || op.v === '--')) {
      this.lx.next();
      const one: Expr = { k: 'num', v: 1, at: op.at };
      const rhs: Expr = { k: 'bin', op: op.v[0], a: e, b: one, at: op.at };
      if (e.k === 'reg') return { k: 'assign', name: e.name, e: rhs, at: t.at };
      this.fail(e.at, `expected a register before ${op.v}`);
    }
    return { k: 'expr', e, at: t.at };
  }

  // ---- expressions (C precedence) ----

  private expr(): Expr {
    const c = this.binary(0);
    const q = this.lx.peek();
    if (q.t !== 'p' || q.v !== '?') return c;
    this.lx.next();
    const a = this.expr();
    this.expect(':');
    return { k: 'cond', c, a, b: this.expr(), at: q.at };
  }

  private static readonly LEVELS: readonly string[][] = [
    ['||'],
    ['&&'],
    ['|'],
    ['^'],
    ['&'],
    ['==', '!='],
    ['<', '<=', '>', '>='],
    ['<<', '>>'],
    ['+', '-'],
    ['*', '/', '%'],
  ];

  private binary(level: number): Expr {
    if (level >= Parser.LEVELS.length) return this.unary();
    let a = this.binary(level + 1);
    for (;;) {
      const t = this.lx.peek();
      if (t.t !== 'p' || !Parser.LEVELS[level].includes(t.v)) return a;
      this.lx.next();
      a = { k: 'bin', op: t.v, a, b: this.binary(level + 1), at: t.at };
    }
  }

  private unary(): Expr {
    const t = this.lx.peek();
    if (t.t === 'p' && (t.v === '-' || t.v === '!' || t.v === '~' || t.v === '+')) {
      this.lx.next();
      return { k: 'un', op: t.v, e: this.unary(), at: t.at };
    }
    if (t.t === 'p' && t.v === '*') {
      this.lx.next();
      return { k: 'deref', loc: this.locationRef(), at: t.at };
    }
    if (t.t === 'p' && t.v === '&') this.fail(t.at, "'&' is outside the subset (pass a location's pointer x as it is)");
    if (t.t === 'p' && t.v === '(') {
      this.lx.next();
      if (this.lx.peek().t === 'id' && TYPE_WORDS.has(this.lx.peek().v)) {
        // a cast: values are 32-bit integers whatever their C type
        while (this.lx.peek().t === 'id' && TYPE_WORDS.has(this.lx.peek().v)) this.lx.next();
        if (this.lx.peek().v === '*') this.fail(this.lx.peek().at, 'a pointer cast is outside the subset');
        this.expect(')');
        return this.unary();
      }
      const e = this.expr();
      this.expect(')');
      return e;
    }
    if (t.t === 'num') {
      this.lx.next();
      return { k: 'num', v: t.n | 0, at: t.at };
    }
    if (t.t === 'id') {
      this.lx.next();
      if (this.lx.peek().v === '(' && this.lx.peek().t === 'p') return this.call(t);
      if (t.v === 'true' || t.v === 'false') return { k: 'num', v: t.v === 'true' ? 1 : 0, at: t.at };
      if (this.regs.includes(t.v)) return { k: 'reg', name: t.v, at: t.at };
      if (this.params.has(t.v))
        this.fail(t.at, `'${t.v}' is a pointer to a shared location: read it with READ_ONCE(*${t.v}) or *${t.v}`);
      this.fail(t.at, `unknown name '${t.v}' (declare registers as 'int ${t.v};')`);
    }
    return this.fail(t.at, `expected an expression, found ${show(t)}`);
  }

  /** A location parameter named where a pointer is expected (`x`, or `(x)`). */
  private locationRef(): string {
    if (this.accept('(')) {
      const inner = this.locationRef();
      this.expect(')');
      return inner;
    }
    const t = this.lx.next();
    if (t.t !== 'id') this.fail(t.at, `expected a location parameter, found ${show(t)}`);
    if (this.regs.includes(t.v)) this.fail(t.at, `'${t.v}' is a register: a pointer register is outside the subset`);
    if (!this.params.has(t.v)) this.fail(t.at, `unknown location '${t.v}' (not a parameter of this function)`);
    return t.v;
  }

  private call(name: Token): Expr {
    const spec = primSpec(name.v);
    if (!spec)
      this.fail(name.at, `${name.v}() is outside the subset slabsim runs (${outsideSubset(name.v)}); see docs/litmus.md`);
    this.expect('(');
    let loc = '';
    const args: Expr[] = [];
    spec.args.forEach((kind, i) => {
      if (i > 0) this.expect(',', `',' (${name.v} takes ${spec.args.length} arguments)`);
      if (kind === 'val') args.push(this.expr());
      else if (kind === 'loc') {
        const t = this.lx.peek();
        if (t.v === '*' || t.v === '&')
          this.fail(t.at, `${name.v}() takes the location's pointer: write ${name.v}(x, ...), not ${t.v}x`);
        loc = this.locationRef();
      } else {
        const t = this.lx.next();
        if (t.v !== '*')
          this.fail(t.at, `${name.v}() takes the location itself: write ${name.v}(*x${spec.args.length > 1 ? ', ...' : ''})`);
        loc = this.locationRef();
      }
    });
    const close = this.lx.next();
    if (close.v !== ')')
      this.fail(
        close.at,
        `expected ')' (${name.v} takes ${spec.args.length} argument${spec.args.length === 1 ? '' : 's'}), found ${show(close)}`,
      );
    return { k: 'call', name: name.v, prim: spec.prim, loc, args, at: name.at };
  }

  // ---- conditions ----

  private quantifier(): Quantifier {
    const t = this.lx.next();
    if (t.t === 'id' && (t.v === 'exists' || t.v === 'forall')) return t.v;
    if (t.v === '~' && this.lx.peek().v === 'exists') {
      this.lx.next();
      return '~exists';
    }
    return this.fail(t.at, `expected the final condition: exists, ~exists or forall, found ${show(t)}`);
  }

  private prop(): Prop {
    const a = this.disj();
    if (!this.accept('=>')) return a;
    return { k: 'implies', a, b: this.prop() };
  }

  private disj(): Prop {
    const ps = [this.conj()];
    while (this.accept('\\/')) ps.push(this.conj());
    return ps.length === 1 ? ps[0] : { k: 'or', ps };
  }

  private conj(): Prop {
    const ps = [this.propUnary()];
    while (this.accept('/\\')) ps.push(this.propUnary());
    return ps.length === 1 ? ps[0] : { k: 'and', ps };
  }

  private propUnary(): Prop {
    const t = this.lx.peek();
    if ((t.t === 'p' && t.v === '~') || (t.t === 'id' && t.v === 'not')) {
      this.lx.next();
      return { k: 'not', p: this.propUnary() };
    }
    if (t.t === 'p' && t.v === '(') {
      this.lx.next();
      const p = this.prop();
      this.expect(')');
      return p;
    }
    if (t.t === 'id' && (t.v === 'true' || t.v === 'false')) {
      this.lx.next();
      return { k: t.v };
    }
    const rloc = this.rloc();
    const op = this.lx.next();
    if (op.v !== '=' && op.v !== '==' && op.v !== '!=')
      this.fail(op.at, `expected '=' and a value after ${rlocText(rloc)}, found ${show(op)}`);
    const vt = this.lx.peek();
    if (vt.t === 'id')
      this.fail(vt.at, `'${vt.v}': comparing with a location or pointer is outside the subset (expected an integer)`);
    const atom: Prop = { k: 'atom', rloc, value: this.intLit(), at: rloc.at };
    return op.v === '!=' ? { k: 'not', p: atom } : atom;
  }

  private rloc(): Rloc {
    const t = this.lx.peek();
    if (t.t === 'num') {
      const { key, at } = this.regKey();
      return regOf(key, at);
    }
    if (t.t === 'p' && t.v === '[') {
      this.lx.next();
      const name = this.ident('a location name');
      this.expect(']');
      return { k: 'loc', name: name.v, at: t.at };
    }
    const name = this.ident('a register N:r or a location');
    return { k: 'loc', name: name.v, at: name.at };
  }

  private checkRloc(test: LitmusTest, r: Rloc): void {
    if (r.k === 'loc') {
      if (!this.locIndex.has(r.name))
        this.fail(
          r.at,
          `unknown location '${r.name}' (the test's locations: ${this.locs.map((l) => l.name).join(', ') || 'none'})`,
        );
      return;
    }
    const th = test.threads[r.thread];
    if (!th) this.fail(r.at, `unknown register ${r.thread}:${r.name}: there is no P${r.thread}`);
    if (!th.regs.includes(r.name))
      this.fail(
        r.at,
        `unknown register ${r.thread}:${r.name} (P${r.thread} declares ${th.regs.length ? th.regs.join(', ') : 'no registers'})`,
      );
  }

  private checkProp(test: LitmusTest, p: Prop): void {
    if (p.k === 'atom') this.checkRloc(test, p.rloc);
    else if (p.k === 'not') this.checkProp(test, p.p);
    else if (p.k === 'and' || p.k === 'or') for (const q of p.ps) this.checkProp(test, q);
    else if (p.k === 'implies') {
      this.checkProp(test, p.a);
      this.checkProp(test, p.b);
    }
  }
}

function regOf(key: string, at: At): Rloc {
  const i = key.indexOf(':');
  return { k: 'reg', thread: Number(key.slice(0, i)), name: key.slice(i + 1), at };
}

/** `0:r1` or `[x]`, as herd prints them. */
export const rlocText = (r: Rloc): string => (r.k === 'reg' ? `${r.thread}:${r.name}` : `[${r.name}]`);
