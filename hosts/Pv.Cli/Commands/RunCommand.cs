// `pv run FILE [--backend B] [--seed N] [--trace] [--timeline]`: one schedule of a scenario (SingleRun: sequential
// without --seed, seeded random with it; a workload is generated from the seed, 0 by default). Prints the verdict
// against the expected one, the violation report if the oracle found one, with --trace every step and with
// --timeline the per-thread columns (the run replayed along its own schedule, every step traced), the metrics table
// and simulated time, and when the scenario speaks of outcomes each operation's and the final condition judged on
// this run; stores one row. Exit 0 when the verdict is the expected one (a violation the scenario expects included)
// and the final condition is met, 1 when not, 2 when no thread has an operation to run.
using System.CommandLine;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv run</c> command.</summary>
internal static class RunCommand
{
    public static Command Create(CommandSupport s)
    {
        var file = new Argument<string>("FILE") { Description = "The scenario (.pvl)." };
        var backend = new Option<string>("--backend", "-b") { Description = "Run on this backend instead of the scenario's." };
        var seed = new Option<ulong?>("--seed") { Description = "Seeded random schedule (and workload seed); default: the sequential schedule, workload seed 0." };
        var command = new Command("run", "Run one schedule of a scenario: verdict, metrics, simulated time.") { file, backend, seed, s.Expect, s.Trace, s.Timeline, s.Config, s.Json, s.Db };
        command.SetAction(parse => s.Guard(() =>
        {
            using var catalog = s.LoadCatalog(parse);
            var bound = CommandSupport.Runnable(BoundScenario.Bind(s.Expecting(parse, ScenarioParser.ParseFile(s.Full(parse.GetValue(file)!))), catalog, parse.GetValue(backend)));
            ulong? scheduleSeed = parse.GetValue(seed);
            RunSummary run;
            using (var store = s.OpenStore(parse))
                run = SingleRun.Run(bound, scheduleSeed, catalog, store);
            // This run's outcomes and the final condition judged on it (taken before a replay runs the scenario again).
            var counts = run.Outcomes?.TakeCounts();
            bool trace = parse.GetValue(s.Trace), timeline = parse.GetValue(s.Timeline);
            // The same run again along its own schedule, with every step traced (the run above kept only recent steps).
            var replay = trace || timeline ? CounterexampleReplay.Run(bound, scheduleSeed ?? 0, null, run.Result.Schedule) : null;
            if (parse.GetValue(s.Json))
                s.WriteJson(new
                {
                    scenario = bound.Scenario.Path, backend = bound.Backend.Name, seed = scheduleSeed, verdict = run.Verdict, expected = bound.Scenario.Expect.Verdict,
                    steps = run.Result.Steps, simulatedNs = run.Metrics[RunSummary.SimulatedTime], violation = run.Result.Report?.Violation.ToString(),
                    deadlock = run.Result.Deadlock, metrics = run.Metrics, trace = trace ? CommandSupport.TraceJson(replay!) : null,
                    outcomes = run.Outcomes is { } log ? new { state = log.FinalState(), summary = OutcomeSummary.Json(counts!, log.Final) } : null,
                });
            else
            {
                s.Output.WriteLine($"{bound.Scenario.Name} on {bound.Backend.Name}, {(scheduleSeed is { } x ? $"random schedule seed {x}" : "sequential schedule")}: {run.Result.Steps} steps");
                s.Output.WriteLine(CommandSupport.VerdictLine(bound.Scenario, run.Verdict));
                if (run.Result.Report is { } report) s.Output.Write(report.Format());
                if (run.Result.Deadlock is { } d) s.Output.WriteLine($"deadlock: {d}");
                if (run.Outcomes is { } log)
                {
                    s.Output.WriteLine($"outcomes: {log.FinalState()}");
                    foreach (var line in OutcomeSummary.Lines(counts!, log.Final, histogram: false)) s.Output.WriteLine(line);
                }
                if (replay is not null) s.PrintTrace(replay, trace, timeline);
                Terminal.Create(s.Output).Write(CommandSupport.MetricsTable(run.Metrics));
                s.Output.WriteLine($"simulated time: {run.Metrics[RunSummary.SimulatedTime]:N0} ns");
            }
            return PvExitCode.Worst([PvExitCode.For(run.Verdict, bound.Scenario.Expect.Verdict),
                PvExitCode.ForCondition(counts is null ? null : OutcomeSummary.ConditionMet(counts, bound.Scenario.Final))]);
        }));
        return command;
    }
}
