import { ComputeEngine } from '@cortex-js/compute-engine';
const ce = new ComputeEngine();
const show = (s) => { const t=Date.now(); try { const e = ce.parse(s, {canonical:false}); console.log(JSON.stringify(s), '=>', JSON.stringify(e.json), Date.now()-t,'ms'); } catch (err) { console.log(s, 'ERR', err.message); } };
for (const s of process.argv.slice(2)) show(s);
