// `pv replay TRACE`: rebuilds the machine of a counterexample file and follows its schedule strictly
// (CounterexampleReplay), then prints every step (who ran it and what it did, in kernel terms), each thread's
// own steps, the TLB and page-table entries of the violating address, and the violation where the invariant
// broke. A scenario file changed since, or a schedule that no longer fits the backend, is bad input (exit 2).
using System.CommandLine;
using Pv.Engine;
using Pv.Engine.Sched;
using Pv.Scenarios.Running;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv replay</c> command.</summary>
internal static class ReplayCommand
{
    public static Command Create(CommandSupport s)
    {
        var trace = new Argument<string>("TRACE") { Description = "A counterexample file written by pv explore." };
        var command = new Command("replay", "Replay a counterexample step by step.") { trace, s.Config, s.Json };
        command.SetAction(parse => s.Guard(() =>
        {
            using var catalog = s.LoadCatalog(parse);
            string cxPath = s.Full(parse.GetValue(trace)!);
            var cx = Counterexample.Load(cxPath);
            Replay replay;
            try
            {
                replay = CounterexampleReplay.Run(cx, catalog, cxPath);
            }
            catch (ReplayDivergedException e)
            {
                // The schedule is the counterexample file's: a schedule that does not fit is a problem of that input, at its entry.
                throw new PvInputException($"{cxPath}: $.schedule[{e.Index}]: {e.Message} (the file was edited, or the backend's plugin changed since it was written?)", e);
            }
            var v = replay.Result.Report?.Violation;
            if (parse.GetValue(s.Json))
                s.WriteJson(new
                {
                    scenario = cx.Scenario, backend = cx.Backend, verdict = replay.Verdict, violation = v?.ToString(),
                    steps = replay.Steps.Select(st => new { step = st.Step, agent = st.Agent, events = st.Events.Select(e => new { e.What, a = $"{e.A:x}", b = $"{e.B:x}" }) }),
                    entries = replay.Entries,
                    threads = replay.Threads.Select(t => new { thread = t.Thread, steps = t.Steps.Select(e => e.ToString()) }),
                });
            else
            {
                s.Output.WriteLine($"replaying {cx.Scenario} on {cx.Backend}: {cx.Schedule.Count} steps{(cx.OmitThreads.Count + cx.OmitOps.Count > 0 ? $" (minimised: without {cx.OmittedText})" : "")}");
                s.Output.WriteLine();
                foreach (var st in replay.Steps)
                    s.Output.WriteLine($"{(v is not null && st.Step == v.Step ? ">>" : "  ")} #{st.Step,-5} {st.Agent,-14} {string.Join("; ", st.Events.Select(e => $"{e.What} {e.A:x} {e.B:x}"))}");
                s.Output.WriteLine();
                s.Output.WriteLine("per thread:");
                foreach (var (thread, steps) in replay.Threads)
                    s.Output.WriteLine($"  {thread}: {(steps.Count == 0 ? "(no traced steps)" : string.Join(" | ", steps.Select(e => $"#{e.Step} {e.What}")))}");
                s.Output.WriteLine();
                s.Output.WriteLine("entries involved:");
                foreach (var e in replay.Entries) s.Output.WriteLine($"  {e.Where}: {e.Text}");
                s.Output.WriteLine();
                s.Output.WriteLine(v is null ? $"no violation: the run ended {replay.Result.Outcome}" : $"invariant broke at step {v.Step}: {v}");
            }
            return replay.Verdict.IsViolation() ? PvExitCode.Violation : PvExitCode.Ok;
        }));
        return command;
    }
}
