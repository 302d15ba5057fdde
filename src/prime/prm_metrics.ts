/**
 * How well an implicit PRM ranks responses: the metrics PRIME's reference reports, plus AUC.
 *
 * Scores s_i are the PRM's outcome logits β·Σ_t log(π_φ/π_ref) (any monotone transform gives the
 * same values here); outcomes o_i ∈ [0, 1]. Inputs are plain number arrays: these run on
 * detached values, once per step.
 */

/**
 * PRIME's PRM accuracy (reference code, "prm accuracy"): within each prompt group of K responses,
 * over pairs (i, j) with o_i ≠ o_j, the share ordered correctly, sign(s_i − s_j) = sign(o_i − o_j),
 * each pair weighted by |o_i − o_j|; a tie in s counts half; a group whose outcomes are all equal
 * counts 0.5. Averaged over groups. Rows g·K … g·K+K−1 form group g.
 *
 * Unlike sign(s) = label, it does not depend on a shift shared by the group's scores: with every
 * score shifted by −2.3, sign accuracy falls to the share of wrong answers while this is unchanged.
 * Throws when the lengths differ or are not a multiple of K.
 *
 * `mixedOnly`: average over the groups with at least two different outcomes only (NaN when there
 * are none). The reference reports this metric on its filtered batch, where the accuracy filter has
 * already dropped every all-equal group; on an unfiltered set (a probe, a held-out evaluation) the
 * all-equal groups' 0.5 otherwise pulls the figure toward chance by the share of such groups.
 */
export function prmPairwiseAccuracy(scores: ArrayLike<number>, outcomes: ArrayLike<number>, K: number, o: { mixedOnly?: boolean } = {}): number {
  const N = scores.length;
  if (outcomes.length !== N) throw new RangeError(`prmPairwiseAccuracy: ${N} scores but ${outcomes.length} outcomes`);
  if (!(K >= 1) || N % K !== 0) throw new RangeError(`prmPairwiseAccuracy: ${N} responses do not split into groups of K=${K}`);
  if (N === 0) return o.mixedOnly ? NaN : 0.5;
  let total = 0, groups = 0;
  for (let g = 0; g < N; g += K) {
    let right = 0, weight = 0;
    for (let i = g; i < g + K; i++)
      for (let j = i + 1; j < g + K; j++) {
        const dOut = outcomes[i]! - outcomes[j]!;
        if (dOut === 0) continue;
        const w = Math.abs(dOut);
        const dS = scores[i]! - scores[j]!;
        right += w * (dS === 0 ? 0.5 : Math.sign(dS) === Math.sign(dOut) ? 1 : 0);
        weight += w;
      }
    if (weight > 0) { total += right / weight; groups++; }
    else if (!o.mixedOnly) { total += 0.5; groups++; }
  }
  return groups ? total / groups : NaN;
}

/** Share of responses with sign(s) = label (s > 0 ⇔ o > 0.5): pinned to the class share when scores share an offset. */
export function prmSignAccuracy(scores: ArrayLike<number>, outcomes: ArrayLike<number>): number {
  if (scores.length !== outcomes.length) throw new RangeError(`prmSignAccuracy: ${scores.length} scores but ${outcomes.length} outcomes`);
  let ok = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > 0 === outcomes[i]! > 0.5) ok++;
  return scores.length ? ok / scores.length : 0;
}

/**
 * Area under the ROC curve of scores against binary labels (o > 0.5 is positive): the probability
 * that a random positive scores above a random negative, ties counting half (the Mann–Whitney U
 * statistic / (n₊·n₋)), over the whole set (not per group). Sorted ranks with ties averaged:
 * O(N log N). NaN when either class is empty.
 */
export function rocAuc(scores: ArrayLike<number>, outcomes: ArrayLike<number>): number {
  const N = scores.length;
  if (outcomes.length !== N) throw new RangeError(`rocAuc: ${N} scores but ${outcomes.length} outcomes`);
  const idx = Array.from({ length: N }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const rank = new Float64Array(N);
  for (let i = 0; i < N; ) {
    let j = i;
    while (j + 1 < N && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const r = (i + j) / 2 + 1; // average 1-based rank of the tie block
    for (let k = i; k <= j; k++) rank[idx[k]!] = r;
    i = j + 1;
  }
  let nPos = 0, rankSum = 0;
  for (let i = 0; i < N; i++)
    if (outcomes[i]! > 0.5) {
      nPos++;
      rankSum += rank[i]!;
    }
  const nNeg = N - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
