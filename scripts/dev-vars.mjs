// Creates .dev.vars from the committed example the first time `npm start` runs,
// so local development has a documented admin token without anyone copying files.
import { copyFileSync, existsSync } from "node:fs";

if (!existsSync(".dev.vars") && existsSync(".dev.vars.example")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("created .dev.vars from .dev.vars.example (local development secrets)");
}
