// The unit of interleaving. An operation is a C# iterator of Steps: the code between two yields runs
// atomically (one page-table entry read or write, one IPI, one lock attempt), and each yield is a point
// where the scheduler may run another thread. A Call pushes a sub-operation on the thread's stack (so
// nesting costs nothing per step); a Wait blocks the thread until its condition holds. A thread's last
// step is the one in which its last operation returns: code after the final yield runs there.
namespace Pv.Engine.Sched;

/// <summary>Something a blocked thread waits for.</summary>
internal interface IWaitCondition
{
    /// <summary>True once the thread may go on.</summary>
    bool IsSatisfied { get; }

    /// <summary>What is awaited, for reports and deadlock messages.</summary>
    string Describe();
}

internal enum StepKind : byte { Yield, Call, Wait }

/// <summary>What an operation yields.</summary>
internal readonly struct Step
{
    internal readonly StepKind Kind;
    internal readonly object? Payload;

    private Step(StepKind kind, object? payload)
    {
        Kind = kind;
        Payload = payload;
    }

    /// <summary>One atomic step is done; another thread may run now.</summary>
    public static Step Yield => default;

    /// <summary>Run <paramref name="operation"/> to completion before going on (its steps are this thread's).</summary>
    public static Step Call(IEnumerable<Step> operation) => new(StepKind.Call, operation.GetEnumerator());

    /// <summary>Block until <paramref name="condition"/> holds (checked before each later step).</summary>
    public static Step Wait(IWaitCondition condition) => new(StepKind.Wait, condition);
}

/// <summary>A countdown of acknowledgements (a waited IPI: one per target).</summary>
internal sealed class AckCounter(int pending, string what) : IWaitCondition
{
    /// <summary>Acknowledgements still missing.</summary>
    public int Pending { get; private set; } = pending;

    /// <summary>One target acknowledged.</summary>
    public void Ack() => Pending--;

    /// <inheritdoc/>
    public bool IsSatisfied => Pending <= 0;

    /// <inheritdoc/>
    public string Describe() => $"{what} ({Pending} pending)";
}
