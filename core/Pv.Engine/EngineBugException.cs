// Errors that are Pv's own fault, never the scenario's: an engine invariant (a reference count, a frame's kind,
// a lock's owner) failed while a step ran, or the engine's code threw (a NullReferenceException in the TLB fast
// path). A valid scenario must never reach one; when one is reached the run stops with SimulationInternalError,
// which carries the schedule up to the failing step so it can be replayed.
namespace Pv.Engine;

/// <summary>An invariant of the simulator itself failed (a bug in Pv, not in the simulated kernel or the scenario).</summary>
/// <param name="message">What failed, in kernel terms.</param>
public sealed class EngineBugException(string message) : Exception(message);

/// <summary>A run stopped because an engine invariant failed in one of its steps.</summary>
public sealed class SimulationInternalError : Exception
{
    internal SimulationInternalError(Exception bug, string agent, long step, IReadOnlyList<int> schedule)
        : base($"{(bug is EngineBugException ? bug.Message : $"{bug.GetType().Name}: {bug.Message}")} (step {step}, {agent})", bug)
    {
        Agent = agent;
        Step = step;
        Schedule = schedule;
    }

    /// <summary>Who ran the failing step.</summary>
    public string Agent { get; }

    /// <summary>The failing step.</summary>
    public long Step { get; }

    /// <summary>The schedule up to and including the failing step (entity ids): replaying it reaches the failure.</summary>
    public IReadOnlyList<int> Schedule { get; }
}
