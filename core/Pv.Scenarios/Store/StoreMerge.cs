// `pv merge OUT IN...`: the rows of shard stores (--shard K/N, each on its own --db) gathered into one store, so
// that it holds what one unsharded run of the same work would have stored. Guarantees:
// - Every input is checked before OUT is touched: a file that is not a Pv results store (or was written by a newer
//   Pv), or rows that do not describe the same work, refuse the whole merge (PvInputException naming the files).
//   The same session (same command, scenario bytes, backends, parameters) must carry the same kind and scenario
//   hash, and each of its backends the same plugin version and SHA-256, in every store; the same unit of work
//   (session, backend, seed) stored twice must have the same verdict, schedules and metrics (runs are
//   deterministic: a difference means another Pv, plugin or plugins.json computed it).
// - OUT's rows are never replaced; a unit it lacks takes the inputs' earliest-finished copy (then the first
//   named), and new rows are added in order of finishing: the merged store does not depend on the order of the
//   inputs, and merging the same inputs again, or into a store that already has their rows, changes nothing.
// - A search stops at its first violating chunk, but each shard stops at its own: of an explore session's rows,
//   those past the first violating chunk (in search order) are left out, and deleted from OUT, so the merged
//   store's rows, `pv history` and `pv explore --resume` are those of the unsharded search.
// - One transaction: a merge that fails leaves OUT as it was. Unreadable input rows are skipped and listed.
using Pv.Engine;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Store;

/// <summary>What a merge did.</summary>
/// <param name="Read">Rows read from the inputs.</param>
/// <param name="Added">Rows added to the output.</param>
/// <param name="AlreadyThere">Input rows whose unit the output or an earlier-finished input copy already held, with the same result.</param>
/// <param name="PastViolation">Explore rows past their search's first violating chunk: left out, or deleted from the output.</param>
/// <param name="Skipped">Input or output rows that could not be read (file and row id), skipped.</param>
public sealed record MergeResult(int Read, int Added, int AlreadyThere, int PastViolation, IReadOnlyList<string> Skipped);

/// <summary>Merges results stores.</summary>
public static class StoreMerge
{
    private sealed record Source(StoredRun Row, string File, int Order);

    /// <summary>Merges the stores <paramref name="inputs"/> into <paramref name="output"/> (created when missing).</summary>
    /// <exception cref="PvInputException">An input is missing, not a results store, or newer; the stores disagree on a session or a
    /// unit; the output cannot be opened or written. Nothing is written then.</exception>
    public static MergeResult Merge(string output, IReadOnlyList<string> inputs)
    {
        if (inputs.Count == 0) throw new PvInputException("pv merge: name at least one store to merge");
        var skipped = new List<string>();
        var read = new List<Source>();
        for (int i = 0; i < inputs.Count; i++)
        {
            using var store = ResultsStore.OpenToRead(inputs[i]);
            if (store.FileSchemaVersion > ResultsStore.SchemaVersion)
                throw new PvInputException($"results store {inputs[i]}: schema version {store.FileSchemaVersion}, written by a newer Pv (this one merges up to {ResultsStore.SchemaVersion})");
            // A version-0 store may hold a unit twice: its newest row is the one that counts, as when it is opened for writing.
            foreach (var row in store.All().GroupBy(Unit).Select(g => g.Last())) read.Add(new Source(row, inputs[i], i));
            skipped.AddRange(store.SkippedRows);
        }
        using var merged = ResultsStore.Open(output);
        var existing = merged.All().Select(r => new Source(r, output, -1)).ToList();
        skipped.AddRange(merged.SkippedRows);
        Check(existing.Concat(read));

        var kept = existing.ToDictionary(s => Unit(s.Row));
        var added = new List<StoredRun>();
        foreach (var copies in read.GroupBy(s => Unit(s.Row)))
        {
            if (kept.ContainsKey(copies.Key)) continue;
            var first = copies.OrderBy(s => s.Row.FinishedAt, StringComparer.Ordinal).ThenBy(s => s.Order).First();
            kept[copies.Key] = first;
            added.Add(first.Row);
        }
        var past = PastFirstViolation(kept.Values.Select(s => s.Row)).ToHashSet();
        var adding = added.Where(r => !past.Contains(Unit(r)))
            .OrderBy(r => r.FinishedAt, StringComparer.Ordinal).ThenBy(r => r.Session, StringComparer.Ordinal)
            .ThenBy(r => r.Backend, StringComparer.Ordinal).ThenBy(r => r.Seed).ToList();
        var deleting = existing.Select(s => s.Row).Where(r => past.Contains(Unit(r))).ToList();

        ResultsStore.Checked(output, () =>
        {
            using var tx = merged.Connection.BeginTransaction();
            foreach (var row in adding) merged.Upsert(row, tx);
            foreach (var row in deleting)
                ResultsStore.Execute(merged.Connection, "DELETE FROM runs WHERE session = $session AND backend = $backend AND seed = $seed", tx,
                    ("$session", row.Session), ("$backend", row.Backend), ("$seed", unchecked((long)row.Seed)));
            tx.Commit();
            return 0;
        });
        return new MergeResult(read.Count, adding.Count, read.Count - added.Count, past.Count, skipped);
    }

    private static (string Session, string Backend, ulong Seed) Unit(StoredRun r) => (r.Session, r.Backend, r.Seed);

    /// <summary>Refuses rows that cannot come from the same work: every disagreement, each naming both stores.</summary>
    private static void Check(IEnumerable<Source> rows)
    {
        var problems = new List<string>();
        void Problem(string text)
        {
            if (!problems.Contains(text)) problems.Add(text);
        }
        var sessions = new Dictionary<string, Source>();
        var backends = new Dictionary<(string, string), Source>();
        var units = new Dictionary<(string, string, ulong), Source>();
        foreach (var s in rows)
        {
            var r = s.Row;
            string what = $"{r.Kind} session {r.Session} ({Path.GetFileName(r.Scenario)} on {r.Backend})";
            if (!sessions.TryAdd(r.Session, s) && sessions[r.Session] is var a && (a.Row.Kind, a.Row.ScenarioHash) != (r.Kind, r.ScenarioHash))
                Problem($"results store {s.File}: {what}: {r.Kind} of scenario SHA-256 {r.ScenarioHash}, but {a.File} has {a.Row.Kind} of {a.Row.ScenarioHash} " +
                    "under the same session key; merge refused");
            else if (!backends.TryAdd((r.Session, r.Backend), s) && backends[(r.Session, r.Backend)] is var b &&
                (b.Row.PluginVersion, b.Row.PluginSha256) != (r.PluginVersion, r.PluginSha256))
                Problem($"results store {s.File}: {what}: plugin {r.PluginVersion} SHA-256 {Hash(r.PluginSha256)}, but {b.File} ran it with plugin " +
                    $"{b.Row.PluginVersion} SHA-256 {Hash(b.Row.PluginSha256)}; merge refused (every shard must load the same plugin assemblies)");
            else if (!units.TryAdd(Unit(r), s) && units[Unit(r)] is var u && !SameResult(u.Row, r))
                Problem($"results store {s.File}: {what}, seed {r.Seed}: {Result(r)}, but {u.File} has {Result(u.Row)} for the same unit; merge refused " +
                    "(runs are deterministic: another Pv, plugin or plugins.json computed one of them)");
        }
        if (problems.Count > 0) throw new PvInputException(problems);
    }

    private static string Hash(string sha256) => sha256 == "" ? "(none)" : sha256;

    private static bool SameResult(StoredRun a, StoredRun b) =>
        a.Verdict == b.Verdict && a.Schedules == b.Schedules && a.Metrics.Count == b.Metrics.Count &&
        a.Metrics.All(m => b.Metrics.TryGetValue(m.Key, out long v) && v == m.Value);

    private static string Result(StoredRun r) => $"{r.Verdict.ToText()} in {r.Schedules} schedules, metrics {string.Join(", ", r.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={m.Value}"))}";

    /// <summary>
    /// The units of explore rows past their search's first violating chunk: a search stops there, so they are not
    /// among its rows. Chunk seeds run first, first + 1000, ... modulo 2^64 and a budget is below 2^63 schedules, so
    /// going round the seeds in ascending order, the gap back to the first chunk is wider than all the others together:
    /// the search order starts after the widest gap.
    /// </summary>
    private static IEnumerable<(string, string, ulong)> PastFirstViolation(IEnumerable<StoredRun> rows)
    {
        foreach (var search in rows.Where(r => r.Kind == "explore").GroupBy(r => (r.Session, r.Backend)))
        {
            var sorted = search.OrderBy(r => r.Seed).ToList();
            int start = 0;
            ulong widest = 0;
            for (int i = 0; i < sorted.Count; i++)
            {
                ulong gap = unchecked(sorted[i].Seed - sorted[(i + sorted.Count - 1) % sorted.Count].Seed);
                if (gap > widest) (widest, start) = (gap, i);
            }
            var order = sorted.Skip(start).Concat(sorted.Take(start)).ToList();
            int first = order.FindIndex(r => r.Verdict != Verdict.Clean);
            if (first < 0) continue;
            foreach (var r in order.Skip(first + 1)) yield return Unit(r);
        }
    }
}
