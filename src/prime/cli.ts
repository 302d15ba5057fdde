#!/usr/bin/env node
/**
 * The `prime` command.
 *
 *   prime train CONFIG.yaml [key=value …]    PRIME RL (advantage estimator chosen in the config)
 *   prime sft CONFIG.yaml [key=value …]      supervised fine-tuning on chat data
 *   prime eval --model DIR --data FILE [--samples K] [--max-new-tokens N] [--temperature T]
 *   prime demo [--quick]                     the embedded default: data, SFT start, PRIME, report
 */
import { loadConfig, configHelp, parseArgs, ConfigError } from './config.js';
import { PrimeTrainer } from './trainer.js';
import { runSft } from './sft.js';
import { evaluateModel } from './evaluate.js';
import { loadPromptFiles } from './data.js';
import { defaultVerifier } from './verifier.js';
import { loadPretrained } from '../lm/index.js';

const USAGE = `usage:
  prime train CONFIG.yaml [key=value …]   PRIME RL; \`prime train --help\` lists every option
  prime sft CONFIG.yaml [key=value …]     supervised fine-tuning (sft.* options, data.train_files)
  prime eval --model DIR --data FILE [--samples K] [--max-new-tokens N] [--temperature T]
  prime demo [--quick]                    generate data, train the SFT start, run PRIME, write a report`;

async function main(argv: string[]): Promise<number> {
  const { command, positional, flags, overrides } = parseArgs(argv, { booleans: ['help', 'quick', 'greedy'] });
  if (!command || command === 'help' || (flags.help && !command)) {
    console.log(USAGE);
    return command ? 0 : 1;
  }
  switch (command) {
    case 'train':
    case 'sft': {
      if (flags.help) {
        console.log(`prime ${command} CONFIG.yaml [key=value …]\n\n${configHelp()}`);
        return 0;
      }
      const cfg = loadConfig(positional[0] ?? null, overrides);
      if (command === 'sft') {
        const r = await runSft(cfg);
        console.log(`sft: done, ${r.steps} steps, final loss ${r.finalLoss.toFixed(4)}, saved to ${r.outputDir}`);
        return 0;
      }
      const t = await PrimeTrainer.create(cfg);
      await t.train();
      t.dispose();
      return 0;
    }
    case 'eval': {
      const model = flags.model, data = flags.data;
      if (typeof model !== 'string' || typeof data !== 'string') {
        console.error('prime eval: --model DIR and --data FILE are required');
        return 2;
      }
      const samples = Number(flags.samples ?? 1);
      const cfg = loadConfig(null, [`model.path=${model}`, `data.train_files=${data}`]);
      const pre = loadPretrained(model, { dtype: cfg.model.dtype });
      if (!pre.tokenizer) throw new Error(`${model}: no tokenizer.json`);
      const rows = await loadPromptFiles([data]);
      const greedy = samples === 1 || flags.greedy === true;
      const r = await evaluateModel(pre.model, pre.tokenizer, rows, defaultVerifier(cfg), {
        samples, greedy, maxNewTokens: Number(flags['max-new-tokens'] ?? 1024), temperature: Number(flags.temperature ?? 1),
        stopTokenIds: pre.stopTokenIds, padTokenId: pre.tokenizer.padTokenId ?? pre.stopTokenIds[0] ?? 0,
      });
      console.log(JSON.stringify({ model, data, samples, greedy, ...r }, null, 2));
      return 0;
    }
    case 'demo': {
      const { runDemo } = await import('./demo/run.js');
      await runDemo({ quick: flags.quick === true });
      return 0;
    }
    default:
      console.error(`prime: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof ConfigError) console.error(e.message);
    else console.error(e instanceof Error ? `prime: ${e.message}` : e);
    process.exit(1);
  },
);
