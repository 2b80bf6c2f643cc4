// `pv explore FILE [--backend B] [--strategy random|pct|dfs] [--schedules N] [--seed N]`: searches
// interleavings with a progress bar. Each finished chunk of schedules is a row in the store, so `--resume`
// skips the chunks an interrupted search finished. On a violation the counterexample is minimised (threads,
// operations, schedule entries dropped while the same invariant breaks), written as JSON, and the command
// that replays it is printed. Exit 1 on a violation.
using System.CommandLine;
using Pv.Scenarios.Running;
using Pv.Scenarios.Store;
using Spectre.Console;

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
        var command = new Command("explore", "Search a scenario's interleavings for an invariant violation.")
            { file, backend, strategy, schedules, seed, output, resume, noMinimise, s.Config, s.Json, s.Db };
        command.SetAction(parse => s.Guard(() =>
        {
            using var catalog = s.LoadCatalog(parse);
            if (catalog is null) return PvExitCode.BadInput;
            var bound = BoundScenario.Load(s.Full(parse.GetValue(file)!), catalog, parse.GetValue(backend));
            var sc = bound.Scenario;
            ulong firstSeed = parse.GetValue(seed);
            var options = new SearchOptions(parse.GetValue(strategy) ?? sc.Search.Strategy, parse.GetValue(schedules) ?? sc.Search.Schedules,
                firstSeed, sc.Search.PctDepth, sc.Search.PreemptionBound);
            if (options.Schedules < 1) { s.Error.WriteLine("pv: --schedules must be at least 1"); return PvExitCode.BadInput; }
            string session = StoredRuns.Session("explore", sc.Hash, bound.Backend.Name, options);
            bool json = parse.GetValue(s.Json);
            using var store = s.OpenStore(parse);
            var done = parse.GetValue(resume) ? store.Done(session, bound.Backend.Name) : new Dictionary<ulong, StoredRun>();
            if (done.Values.FirstOrDefault(r => r.Verdict != "clean") is { } earlier)
            {
                s.Error.WriteLine($"pv: this search already found {earlier.Verdict} in the chunk from seed {earlier.Seed}; run without --resume to search again");
                return PvExitCode.Violation;
            }
            using var compiled = bound.Compile(firstSeed);
            var chunkClock = System.Diagnostics.Stopwatch.StartNew();
            void ChunkDone(ulong first, long runs, Pv.Engine.RunResult? violation)
            {
                store.Add(StoredRuns.Make("explore", session, sc, bound.Backend, catalog, first, runs,
                    violation is null ? "clean" : violation.Report!.Violation.Id.ToString(), new Dictionary<string, long>(), chunkClock.Elapsed));
                chunkClock.Restart();
            }

            SearchResult result;
            if (json || !Terminal.IsInteractive(s.Output)) result = ScenarioRunner.Search(compiled, options, null, first => done.ContainsKey(first), ChunkDone);
            else
            {
                result = null!;
                Terminal.Create(s.Output).Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"{options.Strategy} on {bound.Backend.Name}", maxValue: options.Schedules);
                        result = ScenarioRunner.Search(compiled, options, n => task.Value = n, first => done.ContainsKey(first), ChunkDone);
                        task.Value = options.Schedules;
                    });
            }

            if (result.Violation is not { } violation)
            {
                if (json) s.WriteJson(new { scenario = sc.Path, backend = bound.Backend.Name, strategy = options.Strategy, schedules = result.SchedulesRun, exhausted = result.Exhausted, verdict = "clean", expected = sc.Expect.Text, schedulesPerSecond = result.Rate });
                else
                {
                    s.Output.WriteLine($"{result.SchedulesRun:N0} schedules{(result.Exhausted ? " (every schedule within the bound)" : "")}, no violation ({result.Rate:N0} schedules/s)");
                    s.Output.WriteLine(CommandSupport.VerdictLine(sc, "clean"));
                }
                return PvExitCode.Ok;
            }

            var minimised = parse.GetValue(noMinimise) ? null : ScenarioRunner.Minimise(bound, firstSeed, violation);
            var final = minimised?.Result ?? violation;
            var cx = new Counterexample
            {
                Scenario = Path.GetFullPath(sc.Path), ScenarioHash = sc.Hash, Backend = bound.Backend.Name, Seed = firstSeed, Strategy = options.Strategy,
                Invariant = final.Report!.Violation.Id.ToString(), Violation = final.Report.Violation.ToString(),
                OmitThreads = minimised?.Omitted.Threads ?? [], OmitOps = minimised?.Omitted.Ops.Select(o => new OmittedOp(o.Thread, o.Op)).ToList() ?? [],
                Schedule = final.Schedule, PvVersion = StoredRuns.PvVersion,
            };
            string path = s.Full(parse.GetValue(output) ?? $"{sc.Name}.{bound.Backend.Name}.cx.json");
            cx.Save(path);
            string replay = $"pv replay {path}";
            if (json)
                s.WriteJson(new
                {
                    scenario = sc.Path, backend = bound.Backend.Name, strategy = options.Strategy, schedules = result.SchedulesRun, verdict = cx.Invariant, expected = sc.Expect.Text,
                    violation = cx.Violation, counterexample = path, replay, originalSteps = violation.Schedule.Count, minimisedSteps = final.Schedule.Count,
                    omittedThreads = cx.OmitThreads, omittedOps = cx.OmitOps, schedulesPerSecond = result.Rate,
                });
            else
            {
                s.Output.WriteLine($"violation after {result.SchedulesRun:N0} schedules ({result.Elapsed.TotalMilliseconds:N0} ms):");
                s.Output.Write(final.Report.Format());
                if (minimised is not null)
                    s.Output.WriteLine($"minimised in {minimised.Attempts} runs: {violation.Schedule.Count} -> {final.Schedule.Count} steps; left out threads [{string.Join(", ", cx.OmitThreads)}], operations [{string.Join(", ", cx.OmitOps.Select(o => $"{o.Thread}#{o.Op}"))}]");
                s.Output.WriteLine(CommandSupport.VerdictLine(sc, cx.Invariant));
                s.Output.WriteLine($"counterexample: {path}");
                s.Output.WriteLine($"replay it: {replay}");
            }
            return PvExitCode.Violation;
        }));
        return command;
    }
}
