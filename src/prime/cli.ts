#!/usr/bin/env node
/**
 * The `prime` command.
 *
 *   prime train CONFIG.yaml [--nproc N] [key=value …]
 *                                            PRIME RL (advantage estimator chosen in the config);
 *                                            --nproc N: N data-parallel ranks on this machine
 *   prime sft CONFIG.yaml [key=value …]      supervised fine-tuning on chat data
 *   prime eval --model DIR --data FILE [--samples K] [--max-new-tokens N] [--temperature T]
 *   prime demo [--quick]                     the embedded default: data, SFT start, PRIME, report
 *   prime convert gguf FILE DIR              a GGUF model file → a Hugging Face checkpoint directory
 */
import { fileURLToPath } from 'node:url';
import { loadConfig, configHelp, parseArgs, ConfigError } from './config.js';
import { PrimeTrainer } from './trainer.js';
import { runSft } from './sft.js';
import { evaluateModel, formatFailures } from './evaluate.js';
import { loadPromptFiles } from './data.js';
import { defaultVerifier } from './verifier.js';
import { loadPretrained } from '../lm/index.js';
import { distributed } from '../torch/index.js';

const USAGE = `usage:
  prime train CONFIG.yaml [--nproc N] [key=value …]
                                          PRIME RL; \`prime train --help\` lists every option;
                                          --nproc N trains on N data-parallel ranks on this machine
  prime sft CONFIG.yaml [key=value …]     supervised fine-tuning (sft.* options, data.train_files)
  prime eval --model DIR --data FILE [--samples K] [--max-new-tokens N] [--temperature T] [--show-failures N]
  prime demo [--quick]                    generate data, train the SFT start, run PRIME, write a report
  prime convert gguf FILE DIR [--dtype float32|bfloat16]   GGUF → Hugging Face checkpoint directory`;

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
        const nproc = command === 'train'
          ? '  --nproc N   start N data-parallel ranks on this machine (torch.distributed, Gloo on loopback;\n' +
            '              each gets cores / N threads). Ranks started by torchrun-style MASTER_ADDR, MASTER_PORT,\n' +
            '              RANK, WORLD_SIZE variables join the job without it. rollout.batch_prompts must be\n' +
            '              divisible by N.\n\n'
          : '';
        console.log(`prime ${command} CONFIG.yaml${nproc ? ' [--nproc N]' : ''} [key=value …]\n\n${nproc}${configHelp()}`);
        return 0;
      }
      const cfg = loadConfig(positional[0] ?? null, overrides);
      if (command === 'train' && flags.nproc !== undefined) return launchRanks(String(flags.nproc), positional[0], overrides, cfg.rollout.batch_prompts);
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
        failures: Number(flags['show-failures'] ?? 0),
      });
      const { failures, ...summary } = r;
      if (failures?.length) console.log(formatFailures(failures));
      console.log(JSON.stringify({ model, data, samples, greedy, ...summary }, null, 2));
      return 0;
    }
    case 'convert':
      return (await import('./convert.js')).runConvert(positional, flags);
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

/**
 * `prime train --nproc N`: runs this command without --nproc on N local ranks (torch.distributed's
 * launcher sets the torchrun variables and cores / N threads per rank); each rank's output is
 * prefixed with its rank. Fails when a rank fails (the others are stopped).
 */
async function launchRanks(nprocArg: string, configFile: string | undefined, overrides: string[], batchPrompts: number): Promise<number> {
  const nproc = Number(nprocArg);
  if (!Number.isInteger(nproc) || nproc < 1) throw new Error(`--nproc must be a positive integer, got '${nprocArg}'`);
  if (process.env.WORLD_SIZE) throw new Error(`--nproc starts its own ranks, but this process is already rank ${process.env.RANK ?? '?'} of a job (WORLD_SIZE=${process.env.WORLD_SIZE}); drop --nproc`);
  if (batchPrompts % nproc !== 0) throw new Error(`rollout.batch_prompts (${batchPrompts}) must be divisible by --nproc (${nproc})`);
  const args = ['train', ...(configFile !== undefined ? [configFile] : []), ...overrides];
  await distributed.launch(nproc, fileURLToPath(import.meta.url), args);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof ConfigError) console.error(e.message);
    else console.error(e instanceof Error ? `prime: ${e.message}` : e);
    process.exit(1);
  },
);
