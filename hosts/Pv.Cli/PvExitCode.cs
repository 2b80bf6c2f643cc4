// The exit codes of `pv`, the same for every command, so scripts can tell a found bug from a typo, from a bug in
// Pv, from a bug in a plugin. They are decided here and only here: what a command found is mapped by the For*
// methods below (a verdict against the scenario's expectation, checks that held or not, findings of a sweep that
// expects none); every failure is an exception mapped by For, by what raised it, never by its .NET type alone: bad input
// is a PvInputException raised where the input is known to be at fault (the scenario parser, the readers, the
// catalog, option checks, an operation the simulated kernel refuses); a plugin fault is what the contract
// boundary named; a stop is what Ctrl-C or --time-limit asked for (ForInterrupt: the first Ctrl-C, once the work in
// flight finished; For: a stop at the next schedule); anything else is a bug in Pv.
using Pv.Engine;
using Pv.Hosting.Composition;
using Pv.Scenarios.Running;

namespace Pv.Cli;

/// <summary>Exit codes of the <c>pv</c> command, and the one mapping from a failure to its code and message.</summary>
public static class PvExitCode
{
    /// <summary>Success: the command did what was asked and found nothing wrong.</summary>
    public const int Ok = 0;

    /// <summary>What was found is not what was expected (an invariant broke that should hold, or one expected to break held), or a sweep that expects nothing found a violation.</summary>
    public const int Violation = 1;

    /// <summary>Bad input or usage: an unknown option, a missing file, a located problem in a scenario, plugins.json, a counterexample.</summary>
    public const int BadInput = 2;

    /// <summary>An internal error: a bug in Pv itself (reported with the schedule that reaches it when a run was going).</summary>
    public const int InternalError = 3;

    /// <summary>A plugin fault: a plugin's code threw or hung (reported with the plugin, the backend, the operation and its exception).</summary>
    public const int PluginFault = 4;

    /// <summary>Interrupted: Ctrl-C or --time-limit stopped the command; what it finished is kept.</summary>
    public const int Interrupted = 130;

    /// <summary>
    /// The code of what a run, a search or a replay found (<paramref name="found"/>) against what its scenario expects
    /// (<paramref name="expected"/>, the <c>expect</c> line or --expect): Ok when they agree, so a violation expected where
    /// a fix is off is a success; Violation when they do not, whichever way. A <paramref name="partial"/> search (a shard
    /// of it) that found nothing says nothing of a violation expected elsewhere in the budget: Ok.
    /// </summary>
    public static int For(Verdict found, Verdict expected, bool partial = false) =>
        found.Meets(expected) || (partial && found == Verdict.Clean) ? Ok : Violation;

    /// <summary>
    /// The code of a scenario's final condition over the runs made (<c>exists</c>, <c>~exists</c>, <c>forall</c>): Violation when
    /// it is not met, as an unmet expectation; Ok when met or when there is nothing to judge (no condition, no completed run).
    /// </summary>
    public static int ForCondition(bool? met) => met == false ? Violation : Ok;

    /// <summary>The code of checks with an expectation each (zoo entries, a backend's conformance checks): Ok when every one held.</summary>
    public static int ForChecks(bool allHeld) => allHeld ? Ok : Violation;

    /// <summary>
    /// The code of a comparison that expects nothing of its runs (<c>ab</c>: two backends are compared, not checked): a
    /// violation found on either side is what it reports, exit 1.
    /// </summary>
    public static int ForFindings(bool violationFound) => violationFound ? Violation : Ok;

    /// <summary>The code of one soak finding: a plugin fault, a bug in Pv (an engine exception, a generated scenario refused), or a violation.</summary>
    public static int ForFinding(Verdict finding) => finding switch
    {
        Verdict.PluginFault => PluginFault,
        Verdict.InternalError or Verdict.InvalidScenario => InternalError,
        _ => Violation,
    };

    /// <summary>
    /// The code of a sweep with several outcomes (zoo entries, soak findings, A/B sides): the most serious, in the order
    /// internal error, plugin fault, bad input, violation, ok.
    /// </summary>
    public static int Worst(IEnumerable<int> codes) =>
        codes.OrderBy(c => Array.IndexOf(Severity, c)).DefaultIfEmpty(Ok).First();

    private static readonly int[] Severity = [InternalError, PluginFault, BadInput, Interrupted, Violation, Ok];

    /// <summary>
    /// Prints what <paramref name="failure"/> means to <paramref name="error"/> and returns its code. <paramref name="stopped"/>
    /// says what an interrupted command saved and how to resume it.
    /// </summary>
    public static int For(Exception failure, TextWriter error, string stopped)
    {
        switch (failure)
        {
            case PvInputException input:
                foreach (var problem in input.Problems) error.WriteLine($"pv: {problem}");
                return BadInput;
            case PluginFaultException fault:
                error.WriteLine($"pv: {Describe(fault)}");
                if (fault.InnerException is { } thrown) error.WriteLine($"pv: the plugin's exception: {thrown}");
                return PluginFault;
            case RunStoppedException stop:
                error.WriteLine($"pv: stopped: {stop.Message}; {stopped}");
                return Interrupted;
            case SimulationInternalError e:
                error.WriteLine($"pv: internal error (a bug in Pv, not in the scenario): {e.Message}");
                error.WriteLine($"pv: the schedule that reaches it: {string.Join(' ', e.Schedule)}");
                return InternalError;
            case EngineBugException e:
                error.WriteLine($"pv: internal error (a bug in Pv, not in the scenario): {e.Message}");
                return InternalError;
            default:
                error.WriteLine($"pv: internal error (a bug in Pv, not in the scenario or a plugin; please report it with the command line): {failure}");
                return InternalError;
        }
    }

    /// <summary>
    /// A plugin fault in one paragraph: whose, which operation, what it threw, and where in the run (the schedule so far: the
    /// same command, with the same seed, reproduces it).
    /// </summary>
    public static string Describe(PluginFaultException fault) =>
        $"plugin fault (a bug in plugin '{fault.Plugin}', not in Pv or the scenario): backend '{fault.Backend}': {fault.Reason}" +
        (fault.Schedule.Count == 0 ? "" : $"; at step {fault.Schedule.Count - 1} ({fault.Agent}), schedule so far: {string.Join(' ', fault.Schedule)}");

    /// <summary>
    /// The code of a command that Ctrl-C stopped once the work in flight finished (what it finished is kept):
    /// Interrupted, the shell's code for a process ended by SIGINT, so a script sees the stop. Prints <paramref name="stopped"/>:
    /// what completed, what was kept and the command that goes on.
    /// </summary>
    public static int ForInterrupt(TextWriter error, string stopped)
    {
        error.WriteLine($"pv: interrupted (Ctrl-C): {stopped}");
        return Interrupted;
    }

    /// <summary>Prints a plugin call that never returned and gives its code (the watchdog's report; the process then exits).</summary>
    public static int For(PluginHang hang, TextWriter error)
    {
        error.WriteLine($"pv: plugin fault (a bug in plugin '{hang.Plugin}', not in Pv or the scenario): backend '{hang.Backend}': {hang.Operation} did not return within {hang.Limit}; the process is ended (a call cannot be interrupted)");
        return PluginFault;
    }

    /// <summary>Prints a run that ignored a stop request outside plugin code (a hang in Pv) and gives its code.</summary>
    public static int ForStuckRun(string what, TextWriter error)
    {
        error.WriteLine($"pv: internal error (a bug in Pv, not in the scenario or a plugin): {what}");
        return InternalError;
    }
}
