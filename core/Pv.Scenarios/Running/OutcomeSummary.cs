// What a run or a search says about outcomes, in herd7's terms: the distinct final states with how many runs
// ended in each (most frequent first, ties by text, so the same search prints the same lines), and the final
// condition's judgement: Positive/Negative witness counts, the observation (Always, Sometimes, Never) and whether
// the condition is met (`exists` needs a witness, `~exists` none, `forall` every run). A search that stopped at a
// violation counts the runs that completed before it.
using System.Globalization;
using Pv.Engine.Programs;

namespace Pv.Scenarios.Running;

/// <summary>Outcome histograms and final-condition judgements, as printed and as JSON.</summary>
public static class OutcomeSummary
{
    /// <summary>
    /// Whether the final condition holds over the runs <paramref name="counts"/> counted; null when there is no condition, or
    /// no run completed (a violation stopped the only one): nothing to judge it on.
    /// </summary>
    public static bool? ConditionMet(OutcomeCounts counts, FinalCondition? final) =>
        counts.Runs == 0 ? null : final?.MetBy(counts.Witnesses, counts.Runs);

    /// <summary>herd7's observation: Always, Sometimes or Never (of the completed runs, how many satisfied the proposition).</summary>
    public static string Observation(OutcomeCounts counts) =>
        counts.Runs == 0 ? "no run completed" : counts.Witnesses == 0 ? "Never" : counts.Witnesses == counts.Runs ? "Always" : "Sometimes";

    /// <summary>The final states, most frequent first (ties in text order).</summary>
    public static IReadOnlyList<(string State, long Runs)> States(OutcomeCounts counts) =>
        [.. counts.Histogram.OrderByDescending(h => h.Value).ThenBy(h => h.Key, StringComparer.Ordinal).Select(h => (h.Key, h.Value))];

    /// <summary>The lines printed: with <paramref name="histogram"/> the final states and their counts, then the condition's judgement.</summary>
    public static IEnumerable<string> Lines(OutcomeCounts counts, FinalCondition? final, bool histogram)
    {
        var inv = CultureInfo.InvariantCulture;
        if (histogram)
        {
            var states = States(counts);
            yield return $"outcomes: {counts.Runs.ToString("N0", inv)} completed run(s), {states.Count} distinct final state(s)";
            int width = states.Count == 0 ? 1 : states.Max(s => s.Runs.ToString("N0", inv).Length);
            foreach (var (state, runs) in states)
                yield return $"  {runs.ToString("N0", inv).PadLeft(width)}  {(state.Length == 0 ? "(no outcome listed)" : state)}";
        }
        if (final is not null)
        {
            string met = ConditionMet(counts, final) switch { true => "met", false => "NOT MET", null => "not judged" };
            yield return $"condition {final} ({final.At}): {met}; {Observation(counts)} " +
                $"(positive {counts.Witnesses.ToString("N0", inv)}, negative {(counts.Runs - counts.Witnesses).ToString("N0", inv)})";
        }
    }

    /// <summary>The same as an object for JSON output.</summary>
    public static object Json(OutcomeCounts counts, FinalCondition? final) => new
    {
        runs = counts.Runs,
        states = States(counts).Select(s => new { state = s.State, runs = s.Runs }),
        condition = final?.ToString(),
        positive = final is null ? (long?)null : counts.Witnesses,
        negative = final is null ? (long?)null : counts.Runs - counts.Witnesses,
        observation = final is null ? null : Observation(counts),
        met = ConditionMet(counts, final),
    };
}
