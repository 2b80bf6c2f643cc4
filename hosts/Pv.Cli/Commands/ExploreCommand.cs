// `pv explore FILE [--backend B] [--strategy random|pct|dfs] [--schedules N] [--seed N]`: searches
// interleavings with live progress on a terminal (ExploreSession: each finished chunk of schedules is a row in the store, so
// `--resume` skips the chunks an interrupted search finished, or names the violation it already found; Ctrl-C
// finishes the chunks in flight and prints the command that resumes, exit 130). On a violation the counterexample is minimised
// (threads, operations, schedule entries dropped while the same invariant breaks), written as JSON, and the
// command that replays it is printed; --trace and --timeline print the counterexample replayed, every step labelled
// or a column per thread. --outcomes prints the distinct final outcomes of the completed runs with their counts; a
// scenario's final condition (exists, ~exists, forall) is judged over them. Exit 0 when the search found what the
// scenario expects (the invariant of an `expect O2` line, or nothing over the whole budget for `expect clean`) and the
// final condition is met, 1 when not, 2 when no thread has an operation to run.
// With --shard K/N only the shard's chunks are searched and the verdict printed is the shard's: the search's is that
// of the shards' stores merged (pv merge), which this command with --resume on the merged store reports; a shard
// that found nothing cannot say an expected violation is missing, so it exits 0. --html writes the HTML view of the
// counterexample beside its file (NAME.BACKEND.cx.html).
using System.CommandLine;
using Pv.Engine;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Reports;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv explore</c> command.</summary>
internal static class ExploreCommand
{
    public static Command Create(CommandSupport s)
    {
        var file = new Argument<string>("FILE") { Description = "The scenario (.pvl)." };
        var backend = new Option<string>("--backend", "-b") { Description = "Explore on this backend instead of the scenario's." };
        var strategy = new Option<string>("--strategy") { Description = "random, pct or dfs (default: the scenario's 'explore' line, else pct)." };
        strategy.AcceptOnlyFromAmong("random", "pct", "dfs");
        var schedules = new Option<long?>("--schedules", "-n") { Description = "Schedule budget (default: the scenario's, else 10000)." };
        var seed = new Option<ulong>("--seed") { Description = "First schedule seed (schedule i uses seed + i); also the workload seed.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out", "-o") { Description = "Counterexample file (default: NAME.BACKEND.cx.json in the working directory)." };
        var resume = new Option<bool>("--resume") { Description = "Skip the chunks of schedules the store says this same search already finished." };
        var noMinimise = new Option<bool>("--no-minimise") { Description = "Write the counterexample as found." };
        var outcomes = new Option<bool>("--outcomes") { Description = "Print the distinct final outcomes of the runs with how many ended in each (herd7's histogram)." };
        var html = new Option<bool>("--html") { Description = "On a violation, also write the counterexample's HTML page beside its file (.cx.html)." };
        var command = new Command("explore", "Search a scenario's interleavings for an invariant violation.")
            { file, backend, strategy, schedules, seed, output, resume, noMinimise, outcomes, html, s.Jobs, s.Shard, s.Expect, s.Trace, s.Timeline, s.Config, s.Json, s.Db, s.TimeLimit };
        command.SetAction(parse => s.Guard(() =>
        {
            using var catalog = s.LoadCatalog(parse);
            var bound = CommandSupport.Runnable(BoundScenario.Bind(s.Expecting(parse, ScenarioParser.ParseFile(s.Full(parse.GetValue(file)!))), catalog, parse.GetValue(backend)));
            var options = SearchOptions.For(bound.Scenario, parse.GetValue(strategy), parse.GetValue(schedules), parse.GetValue(seed));
            if (options.Schedules < 1) throw new PvInputException("--schedules must be at least 1");
            var shard = s.ShardOf(parse);
            using var store = s.OpenStore(parse);
            bool histogram = parse.GetValue(outcomes);
            var session = new ExploreSession(bound, options, catalog, store, parse.GetValue(resume), s.JobsOf(parse), shard, histogram);
            bool json = parse.GetValue(s.Json);
            string cxFile = s.Full(parse.GetValue(output) ?? session.DefaultCounterexampleFile);
            if (!shard.IsAll && !json)
                s.Output.WriteLine($"shard {shard}: {session.Chunks.Count} of {options.Chunks().Count()} chunks of the search ({session.Budget:N0} schedules)");
            var tally = new WorkTally(session.Budget, "schedules", ("violation", "violations"), () => session.SchedulesSettled);
            var result = s.WithProgress(json, tally, $"{options.Strategy} on {bound.Backend.Name}", clear: false,
                () => session.Run(cxFile, !parse.GetValue(noMinimise), done => tally.Report(done, 0), s.Interrupt));
            s.ReportSkipped(store);
            var expected = bound.Scenario.Expect.Verdict;
            if (result.Earlier is { } earlier)
            {
                s.Error.WriteLine($"pv: this search already found {earlier.Verdict.ToText()} in the chunk from seed {earlier.Seed} (counterexample: {cxFile}); run without --resume to search again");
                return PvExitCode.For(earlier.Verdict, expected, partial: !shard.IsAll);
            }
            bool trace = parse.GetValue(s.Trace), timeline = parse.GetValue(s.Timeline);
            bool page = parse.GetValue(html) && result.Found is not null;
            var replay = result.Found is { } found && (trace || timeline || page) ? CounterexampleReplay.Run(found.Counterexample, catalog, result.CounterexampleFile!) : null;
            string? pageFile = page ? CounterexampleHtml.PathFor(result.CounterexampleFile!) : null;
            if (pageFile is not null) CounterexampleHtml.Write(pageFile, result.Found!.Counterexample, replay!, s.PvCommand(parse, "replay", result.CounterexampleFile!));
            Print(s, json, session, result, file => s.PvCommand(parse, "replay", file), trace || timeline ? replay : null, trace, timeline, pageFile, histogram);
            bool? met = result.Outcomes is { } counts && shard.IsAll ? OutcomeSummary.ConditionMet(counts, bound.Scenario.Final) : null;
            return PvExitCode.Worst([PvExitCode.For(result.Verdict, expected, partial: !shard.IsAll), PvExitCode.ForCondition(met)]);
        }, s.Resumable("the store holds every finished chunk of schedules"), parse.GetValue(s.TimeLimit), units: true));
        return command;
    }

    private static void Print(CommandSupport s, bool json, ExploreSession session, ExploreResult result, Func<string, string> replayCommand, Replay? traced, bool trace, bool timeline, string? pageFile, bool histogram)
    {
        var final = session.Bound.Scenario.Final;
        object? outcomes = result.Outcomes is { } c ? OutcomeSummary.Json(c, final) : null;
        void PrintOutcomes()
        {
            if (result.Outcomes is { } counts)
                foreach (var line in OutcomeSummary.Lines(counts, final, histogram)) s.Output.WriteLine(line);
        }
        var (sc, backend, search) = (session.Bound.Scenario, session.Bound.Backend.Name, result.Search);
        string? shard = session.Shard.IsAll ? null : session.Shard.ToString();
        // A shard's verdict is not the search's: a lower chunk in another shard may break an invariant first.
        string VerdictText(Verdict v) => shard is null ? CommandSupport.VerdictLine(sc, v)
            : $"verdict of shard {shard}: {v.ToText()}; the search's: pv merge the shards' stores, then this command without --shard, with --resume --db MERGED";
        if (result.Found is not { } found)
        {
            if (json) s.WriteJson(new { scenario = sc.Path, backend, strategy = session.Options.Strategy, shard, schedules = search.SchedulesRun, exhausted = search.Exhausted, verdict = result.Verdict, expected = sc.Expect.Verdict, schedulesPerSecond = search.Rate, outcomes });
            else
            {
                s.Output.WriteLine($"{search.SchedulesRun:N0} schedules{(search.Exhausted ? " (every schedule within the bound)" : "")}, no violation ({search.Rate:N0} schedules/s)");
                PrintOutcomes();
                s.Output.WriteLine(VerdictText(result.Verdict));
            }
            return;
        }
        var (cx, path, replay) = (found.Counterexample, result.CounterexampleFile, replayCommand(result.CounterexampleFile!));
        if (json)
            s.WriteJson(new
            {
                scenario = sc.Path, backend, strategy = session.Options.Strategy, shard, schedules = search.SchedulesRun, verdict = cx.Invariant, expected = sc.Expect.Verdict,
                violation = cx.Violation, counterexample = path, replay, originalSteps = found.Found.Schedule.Count, minimisedSteps = found.Final.Schedule.Count,
                omittedThreads = cx.OmitThreads, omittedOps = cx.OmitOps, schedulesPerSecond = search.Rate,
                trace = trace ? CommandSupport.TraceJson(traced!) : null, outcomes,
                html = pageFile,
            });
        else
        {
            s.Output.WriteLine($"violation after {search.SchedulesRun:N0} schedules ({search.Elapsed.TotalMilliseconds:N0} ms):");
            s.Output.Write(found.Final.Report!.Format());
            if (found.Minimised is { } minimised)
                s.Output.WriteLine($"minimised in {minimised.Attempts} runs: {found.Found.Schedule.Count} -> {found.Final.Schedule.Count} steps; left out {cx.OmittedText}");
            if (traced is not null) s.PrintTrace(traced, trace, timeline);
            PrintOutcomes();
            s.Output.WriteLine(VerdictText(cx.Invariant));
            s.Output.WriteLine($"counterexample: {path}");
            if (pageFile is not null) s.Output.WriteLine($"html: {pageFile}");
            s.Output.WriteLine($"replay it: {replay}");
        }
    }
}
