// The one error a machine program itself can cause at run time: it asked the simulated kernel for something
// the kernel forbids or Pv does not model (a waited IPI with IRQs off would deadlock, irq-on with IRQs on,
// rcu_read_unlock without the lock, mremap of a range that is not one VMA, a page-table allocation failing
// where the kernel's -ENOMEM path is not modelled). It is the scenario's fault, never Pv's: Machine.Run
// stamps it with the operation (file:line:column), the thread and the step, so the report points at the
// line to change, and with the schedule so far, so the same seed reproduces it.
namespace Pv.Engine.Programs;

/// <summary>An operation of the machine program cannot run as written.</summary>
public sealed class ProgramMisuseException : Exception
{
    internal ProgramMisuseException(string message) : base(message) { }

    /// <summary>Where the operation that failed was written, when the program says (a scenario file line).</summary>
    public SourceSpan? At { get; private set; }

    /// <summary>Who ran the failing step.</summary>
    public string Agent { get; private set; } = "setup";

    /// <summary>The failing step.</summary>
    public long Step { get; private set; }

    /// <summary>The schedule up to and including the failing step (entity ids).</summary>
    public IReadOnlyList<int> Schedule { get; private set; } = [];

    internal void Locate(SourceSpan? at, string agent, long step, IReadOnlyList<int> schedule) => (At, Agent, Step, Schedule) = (at, agent, step, schedule);
}
