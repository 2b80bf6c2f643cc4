// `pv zoo [--backend B] [--dir D] [--only FILE] [--jobs N] [--isolate]`: runs every scenario of scenarios/zoo (or
// only those on backend B, or one file; Zoo.RunAll), N entries at once (the same results for every N), and prints
// entry, backend, expected, found, schedules to the first counterexample and time. Exit 0 only if every entry behaves as its file expects; 1 otherwise; 2 if an entry
// cannot be read; 4 if a plugin faulted in an entry (the other entries still run; each fault is listed). With
// --isolate each entry runs in a child pv, so one whose process dies (a stack overflow in plugin code) is
// reported by name, exit 4, and the rest still run. With --shard K/N only entries i (in file name order, after
// --only) with i mod N = K run: the shards' tables together are the whole zoo's. Without --dir the zoo is
// scenarios/zoo beside plugins.json (the repository's or the installed tool's), else the repository's the current
// directory is in, else the copy built with pv (ConfigLocator.ZooCandidates). An entry whose backend the
// plugins.json in use lacks is skipped and listed (Zoo.Select); when nothing is left to run (--only of no entry,
// --backend of a backend no entry runs on, every entry skipped), exit 2. With --trace or --timeline, the first
// violating run of each entry that found one is replayed and printed after the table (every step labelled, or a
// column per thread); --isolate's children hand their entries' schedules back in their JSON for that. On a terminal
// the entries done, the rate, the time left and the entries not as expected so far are drawn live; Ctrl-C lets the
// entries in flight finish and prints how many were done and the command that runs the zoo again (exit 130).
using System.CommandLine;
using Pv.Engine;
using Pv.Scenarios.Running;
using Spectre.Console;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv zoo</c> command.</summary>
internal static class ZooCommand
{
    public static Command Create(CommandSupport s)
    {
        var backend = new Option<string>("--backend", "-b") { Description = "Only the entries that run on this backend." };
        var dir = new Option<string>("--dir") { Description = "The zoo folder (default: scenarios/zoo beside plugins.json, else the Pv repository's, else the zoo built with pv)." };
        var only = new Option<string>("--only") { Description = "Only this entry (a file name in the zoo folder)." };
        var isolate = new Option<bool>("--isolate") { Description = "Run each entry in a child process: one that dies (a stack overflow in a plugin) is reported and the rest go on." };
        var command = new Command("zoo", "Run the bug zoo (docs/model.md: each bug with the fix off and on) and check every entry's expectation.")
            { backend, dir, only, s.Jobs, s.Shard, isolate, s.Trace, s.Timeline, s.Config, s.Json, s.TimeLimit };
        command.SetAction(parse => s.Guard(() =>
        {
            using var catalog = s.LoadCatalog(parse);
            string folder = parse.GetValue(dir) is { } d ? s.Full(d) : DefaultFolder(s, catalog);
            if (!Directory.Exists(folder)) throw new PvInputException($"no zoo folder {folder}; pass --dir");
            var files = Zoo.Files(folder);
            if (parse.GetValue(only) is { } name && (files = [.. files.Where(f => Path.GetFileName(f) == name)]).Count == 0)
                throw new PvInputException($"--only {name}: no such entry in {folder}");
            var shard = s.ShardOf(parse);
            int all = files.Count;
            files = shard.Of(files);
            int inShard = files.Count;
            var (selected, skipped) = Zoo.Select(files, catalog, parse.GetValue(backend));
            if (selected.Count == 0 && shard.IsAll)
                throw new PvInputException(skipped.Count > 0
                    ? $"no zoo entry runs on the backends of {catalog.ConfigPath}: {Skipped(skipped)}"
                    : $"no zoo entry in {folder}{(parse.GetValue(backend) is { } b ? $" runs on backend {b}" : "")}");
            files = [.. selected];
            int jobs = s.JobsOf(parse);
            var childExits = new System.Collections.Concurrent.ConcurrentBag<int>();
            var tally = new WorkTally(files.Count, "entries", ("entry not as expected", "entries not as expected"));
            int isolatedDone = 0, isolatedUnexpected = 0;
            IEnumerable<ZooEntry> Isolated(string f)
            {
                var entries = ZooIsolation.Run(f, catalog.ConfigPath, parse.GetValue(backend), parse.GetValue(s.TimeLimit), childExits);
                int unexpected = Interlocked.Add(ref isolatedUnexpected, entries.Count(e => !e.AsExpected));
                tally.Report(Interlocked.Increment(ref isolatedDone), unexpected);
                return entries;
            }
            var zoo = s.WithProgress(parse.GetValue(s.Json), tally, parse.GetValue(backend) is { } on ? $"zoo on {on}" : "zoo", clear: true, () => parse.GetValue(isolate)
                // As Zoo.RunAll does in-process: no entry begins once Ctrl-C was pressed.
                ? new ZooRun([.. Workers.InParallel(files, jobs, Isolated, s.Interrupt).SelectMany(e => e)])
                : Zoo.RunAll(files, catalog, parse.GetValue(backend), jobs, (done, unexpected) => tally.Report(done, unexpected), s.Interrupt));
            bool trace = parse.GetValue(s.Trace), timeline = parse.GetValue(s.Timeline);
            // Each entry's first violating run again, every step traced: what --trace and --timeline print.
            var replays = trace || timeline
                ? zoo.Entries.Where(e => e.ViolatingSchedule is not null)
                    .ToDictionary(e => e, e => CounterexampleReplay.Run(BoundScenario.Load(e.File, catalog), 0, null, e.ViolatingSchedule!))
                : [];
            if (parse.GetValue(s.Json))
                s.WriteJson(zoo.Entries.Select(e => new
                {
                    e.Entry, e.File, e.Backend, expected = e.ExpectedText, found = e.FoundText, e.Schedules, ms = e.Elapsed.TotalMilliseconds, asExpected = e.AsExpected, e.Error,
                    schedule = e.ViolatingSchedule, trace = trace && replays.TryGetValue(e, out var replay) ? CommandSupport.TraceJson(replay) : null,
                }));
            else
            {
                var table = new Table().Border(TableBorder.Rounded).AddColumns("Entry", "Backend", "Expected", "Found", "Schedules", "Time", "");
                foreach (var e in zoo.Entries)
                    table.AddRow(Markup.Escape(e.Entry), Markup.Escape(e.Backend), e.ExpectedText, e.FoundText, e.Schedules.ToString("N0"), $"{e.Elapsed.TotalMilliseconds:N0} ms",
                        e.AsExpected ? "[green]ok[/]" : "[red]UNEXPECTED[/]");
                Terminal.Create(s.Output).Write(table);
                foreach (var e in zoo.Entries.Where(e => e.Error is not null && e.Fault is null)) s.Output.WriteLine(e.Error);
                s.Output.WriteLine($"{zoo.AsExpected} of {zoo.Entries.Count} entries as expected{(shard.IsAll ? "" : $" (shard {shard}: {inShard} of {all} files)")}");
                foreach (var (e, replay) in replays)
                {
                    s.Output.WriteLine();
                    s.Output.WriteLine($"{e.Entry} on {e.Backend}: {e.FoundText} (expected {e.ExpectedText}) after {e.Schedules:N0} schedules, {replay.Steps.Count} steps:");
                    s.PrintTrace(replay, trace, timeline);
                }
            }
            if (skipped.Count > 0)
                (parse.GetValue(s.Json) ? s.Error : s.Output).WriteLine($"skipped, not offered by {catalog.ConfigPath}: {Skipped(skipped)}");
            return PvExitCode.Worst(zoo.Faults.Select(f => PvExitCode.For(f, s.Error, "")).Concat(childExits)
                .Append(zoo.AnyError ? PvExitCode.BadInput : PvExitCode.ForChecks(zoo.AllAsExpected)));
        }, s.Rerun("a zoo run stores nothing"), parse.GetValue(s.TimeLimit), units: true));
        return command;
    }

    /// <summary>The first zoo of <see cref="ConfigLocator.ZooCandidates"/> that exists (beside plugins.json, the repository's, pv's own).</summary>
    /// <exception cref="PvInputException">None exists: the message lists where it looked.</exception>
    internal static string DefaultFolder(CommandSupport s, Pv.Hosting.PluginCatalog catalog)
    {
        var candidates = s.Locator.ZooCandidates(catalog);
        return candidates.FirstOrDefault(Directory.Exists)
            ?? throw new PvInputException($"no zoo folder; looked for {string.Join(", ", candidates)}; pass --dir");
    }

    /// <summary>The skipped entries, counted by the backend plugins.json lacks: "xen-pv (6 entries), uml (4 entries)".</summary>
    private static string Skipped(IReadOnlyList<ZooSkip> skipped) =>
        string.Join(", ", skipped.SelectMany(k => k.Missing).GroupBy(b => b).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key} ({g.Count()} {(g.Count() == 1 ? "entry" : "entries")})"));
}
