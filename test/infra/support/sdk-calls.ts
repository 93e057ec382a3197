import * as path from 'node:path';
import * as ts from 'typescript';

/** IAM service prefix of each SDK client the handlers use. */
const IAM_PREFIX: Record<string, string> = {
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-ecs': 'ecs',
  '@aws-sdk/client-app-mesh': 'appmesh',
  '@aws-sdk/client-elastic-load-balancing-v2': 'elasticloadbalancing',
  '@aws-sdk/client-sfn': 'states',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-codepipeline': 'codepipeline',
};

/**
 * Finds the AWS API calls a handler can make by following its code, not its imports: a module
 * that can both read and write a document must not make a handler that only reads look like a
 * writer, and a handler that starts writing must be seen writing.
 *
 * One TypeScript program is built for all the entries it is asked about (the type checker
 * resolves every call to its declaration). From a handler file, it walks:
 * - the whole handler file (its own code);
 * - the top-level statements of every module it imports, transitively (they run on import),
 *   except function-valued declarations, which count only once referenced;
 * - every function, method, constructor, accessor or variable initializer the walked code
 *   references, with everything lexically inside it (callbacks, closures);
 * - for `new C(...)` of a project class, its constructor, field initializers and base classes;
 * - for a call through an interface or abstract member (a seam such as `TrafficRouter`), that
 *   member in every project class the walked code instantiates (rapid type analysis), whenever
 *   the instantiation is found.
 *
 * It collects `new XCommand(...)` of the SDK clients above as `prefix:X` IAM actions. It
 * over-approximates within a function (both branches of an `if` count; so does every member of
 * an instantiated class that has the name of a called interface member). What it cannot see:
 * calls through computed member names (`obj[name]()`), code in other packages (it does not follow
 * the SDK or node_modules), and commands built other than with `new`. The handlers use none.
 */
export class SdkCallScanner {
  private readonly program: ts.Program;
  private readonly checker: ts.TypeChecker;
  private readonly cache = new Map<string, Set<string>>();

  constructor(entries: readonly string[]) {
    const configFile = ts.findConfigFile(path.dirname(entries[0]), ts.sys.fileExists);
    const options: ts.CompilerOptions = configFile
      ? ts.parseJsonConfigFileContent(ts.readConfigFile(configFile, ts.sys.readFile).config, ts.sys, path.dirname(configFile)).options
      : { strict: true };
    // No global type packages (@types/node, @types/jest): SDK commands are imported, never
    // global, and parsing Node's types would be about 40 % of the program's cost.
    this.program = ts.createProgram({ rootNames: [...entries], options: { ...options, types: [], noEmit: true } });
    this.checker = this.program.getTypeChecker();
  }

  /** The IAM actions `entry` (a handler file among the constructor's entries) can call. */
  actionsOf(entry: string): Set<string> {
    const file = path.resolve(entry);
    const cached = this.cache.get(file);
    if (cached) return new Set(cached);
    const actions = new Walk(this.program, this.checker).run(file);
    this.cache.set(file, actions);
    return new Set(actions);
  }
}

/** One reachability walk from one entry file. */
class Walk {
  private readonly actions = new Set<string>();
  private readonly visited = new Set<ts.Node>();
  private readonly modules = new Set<ts.SourceFile>();
  private readonly instantiated = new Set<ts.ClassLikeDeclaration>();
  /** Names of interface or abstract members called so far: every instantiated class's member of that name is reachable. */
  private readonly virtualCalls = new Set<string>();
  private readonly queue: ts.Node[] = [];

  constructor(
    private readonly program: ts.Program,
    private readonly checker: ts.TypeChecker,
  ) {}

  run(entry: string): Set<string> {
    const source = this.program.getSourceFile(entry);
    if (!source) throw new Error(`${entry} is not part of the scanned program`);
    this.addModule(source);
    // The handler file is the handler's own code: all of it counts.
    this.enqueue(source);
    while (this.queue.length > 0) this.walk(this.queue.pop()!);
    return this.actions;
  }

  private enqueue(node: ts.Node): void {
    if (this.visited.has(node)) return;
    this.visited.add(node);
    this.queue.push(node);
  }

  /** A module's import-time code, and the modules it imports. */
  private addModule(source: ts.SourceFile): void {
    if (this.modules.has(source)) return;
    this.modules.add(source);
    for (const statement of source.statements) {
      if (ts.isImportDeclaration(statement)) {
        if (statement.importClause?.isTypeOnly) continue;
        const imported = this.resolveModule(source, statement.moduleSpecifier);
        if (imported) this.addModule(imported);
      } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && !statement.isTypeOnly) {
        const imported = this.resolveModule(source, statement.moduleSpecifier);
        if (imported) this.addModule(imported);
      } else if (ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) {
          const init = declaration.initializer;
          if (init && !isFunctionLike(init)) this.enqueue(init);
        }
      } else if (ts.isExpressionStatement(statement)) {
        this.enqueue(statement);
      }
    }
  }

  private resolveModule(from: ts.SourceFile, specifier: ts.Expression): ts.SourceFile | undefined {
    if (!ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) return undefined;
    const resolved = ts.resolveModuleName(specifier.text, from.fileName, this.program.getCompilerOptions(), ts.sys).resolvedModule;
    const file = resolved && this.program.getSourceFile(resolved.resolvedFileName);
    return file && this.isProjectFile(file) ? file : undefined;
  }

  private isProjectFile(file: ts.SourceFile): boolean {
    return !file.isDeclarationFile && !this.program.isSourceFileFromExternalLibrary(file) && !file.fileName.includes('/node_modules/');
  }

  private walk(root: ts.Node): void {
    const visit = (node: ts.Node): void => {
      if (ts.isNewExpression(node)) this.onNew(node);
      if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) this.onReference(node);
      // Type positions name no code.
      if (ts.isTypeNode(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) return;
      if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return;
      ts.forEachChild(node, visit);
    };
    visit(root);
  }

  /** `new XCommand(...)` of an SDK client is an API call; `new C(...)` of a project class runs its constructor. */
  private onNew(node: ts.NewExpression): void {
    const symbol = this.resolve(node.expression);
    const declaration = symbol?.declarations?.[0];
    if (!declaration) {
      if (/Command$/.test(node.expression.getText())) {
        throw new Error(`${node.getSourceFile().fileName}: cannot tell which SDK client ${node.expression.getText()} comes from`);
      }
      return;
    }
    const file = declaration.getSourceFile().fileName;
    const client = /\/node_modules\/(@aws-sdk\/client-[a-z0-9-]+)\//.exec(file)?.[1];
    if (client && symbol.name.endsWith('Command')) {
      const prefix = IAM_PREFIX[client];
      if (!prefix) throw new Error(`${node.getSourceFile().fileName}: no IAM prefix known for ${client} (${symbol.name})`);
      this.actions.add(`${prefix}:${symbol.name.slice(0, -'Command'.length)}`);
    }
  }

  /** A reference to project code makes that code reachable. */
  private onReference(node: ts.Identifier | ts.PrivateIdentifier): void {
    const symbol = this.resolve(node);
    for (const declaration of symbol?.declarations ?? []) {
      if (!this.isProjectFile(declaration.getSourceFile())) continue;
      this.addModule(declaration.getSourceFile());
      if (ts.isClassDeclaration(declaration) || ts.isClassExpression(declaration)) {
        // Referenced as a value (new C, C.staticMethod, passed around): it may be instantiated.
        this.instantiate(declaration);
      } else if (
        ts.isFunctionDeclaration(declaration) ||
        ts.isMethodDeclaration(declaration) ||
        ts.isConstructorDeclaration(declaration) ||
        ts.isGetAccessorDeclaration(declaration) ||
        ts.isSetAccessorDeclaration(declaration)
      ) {
        if (declaration.body) this.enqueue(declaration);
        else if (isAbstract(declaration)) this.virtualCall(declaration);
        else if (ts.isFunctionDeclaration(declaration) || ts.isMethodDeclaration(declaration)) {
          // An overload signature: its implementation is the declaration with a body.
          for (const other of symbol!.declarations ?? []) if ((other as ts.FunctionLikeDeclaration).body) this.enqueue(other);
        }
      } else if (ts.isVariableDeclaration(declaration) || ts.isPropertyDeclaration(declaration)) {
        if (declaration.initializer) this.enqueue(declaration.initializer);
        if (ts.isPropertyDeclaration(declaration) && isAbstract(declaration)) this.virtualCall(declaration);
      } else if (ts.isMethodSignature(declaration) || ts.isPropertySignature(declaration)) {
        // A member of an interface or type literal: any instantiated class may be behind it.
        this.virtualCall(declaration);
      } else if (ts.isPropertyAssignment(declaration) || ts.isShorthandPropertyAssignment(declaration)) {
        this.enqueue(declaration);
      }
    }
  }

  private virtualCall(member: ts.NamedDeclaration): void {
    const name = member.name && ts.isIdentifier(member.name) ? member.name.text : undefined;
    if (!name || this.virtualCalls.has(name)) return;
    this.virtualCalls.add(name);
    for (const cls of this.instantiated) this.enqueueMembersNamed(cls, name);
  }

  private instantiate(cls: ts.ClassLikeDeclaration): void {
    if (this.instantiated.has(cls)) return;
    this.instantiated.add(cls);
    for (const member of cls.members) {
      if (ts.isConstructorDeclaration(member) && member.body) this.enqueue(member);
      // Field initializers run on construction (static ones on load: either way, once referenced).
      if ((ts.isPropertyDeclaration(member) || ts.isClassStaticBlockDeclaration(member)) && !isFunctionValued(member)) this.enqueue(member);
    }
    for (const clause of cls.heritageClauses ?? []) {
      if (clause.token !== ts.SyntaxKind.ExtendsKeyword) continue;
      for (const type of clause.types) this.walk(type.expression);
    }
    for (const name of this.virtualCalls) this.enqueueMembersNamed(cls, name);
  }

  private enqueueMembersNamed(cls: ts.ClassLikeDeclaration, name: string): void {
    for (const member of cls.members) {
      if (member.name && ts.isIdentifier(member.name) && member.name.text === name) this.enqueue(member);
    }
  }

  private resolve(node: ts.Node): ts.Symbol | undefined {
    let symbol = this.checker.getSymbolAtLocation(node);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    return symbol;
  }
}

function isFunctionLike(node: ts.Node): boolean {
  return ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isClassExpression(node);
}

function isFunctionValued(member: ts.PropertyDeclaration | ts.ClassStaticBlockDeclaration): boolean {
  return ts.isPropertyDeclaration(member) && member.initializer !== undefined && isFunctionLike(member.initializer);
}

function isAbstract(node: ts.Node): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.AbstractKeyword);
}
