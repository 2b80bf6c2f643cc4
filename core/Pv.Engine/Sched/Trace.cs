// The step trace: a ring of the last N steps per thread (and per interrupt context) for violation reports and
// replays, and a running hash of every step of the run so that two runs can be compared bit for bit. Entries hold
// an event kind (a static TraceEvent) and numbers only, so tracing allocates nothing per step; the labels are
// written when a trace is printed.
namespace Pv.Engine.Sched;

/// <summary>One traced event inside a step.</summary>
/// <param name="Step">The machine-wide step number.</param>
/// <param name="Event">What happened: the event's kind, which names it and labels its operands.</param>
/// <param name="A">First operand (usually an address); mixed into the run hash.</param>
/// <param name="B">Second operand (a PFN, an entry, a CPU); mixed into the run hash.</param>
/// <param name="C">A third operand for readers only (an entry's virtual address, a hypercall's vCPUs); never hashed.</param>
public readonly record struct TraceEntry(long Step, TraceEvent Event, ulong A, ulong B, ulong C)
{
    /// <summary>The event's name (<c>tlb_gather_mmu</c>).</summary>
    public string What => Event.Name;

    /// <summary>The event with its operands labelled: <c>tlb_gather_mmu mm=1 tlb_flush_pending=1</c>.</summary>
    public string Text => Event.Operands(A, B, C) is { Length: > 0 } operands ? $"{What} {operands}" : What;

    /// <inheritdoc/>
    public override string ToString() => $"#{Step} {Text}";
}

/// <summary>A fixed-size ring of trace entries.</summary>
internal sealed class TraceRing(int depth)
{
    private readonly TraceEntry[] _ring = new TraceEntry[Math.Max(depth, 1)];
    private int _count;
    private int _head;

    /// <summary>Entries held (at most the depth).</summary>
    public int Count => _count;

    public void Add(in TraceEntry e)
    {
        _ring[_head] = e;
        _head = (_head + 1) % _ring.Length;
        if (_count < _ring.Length) _count++;
    }

    /// <summary>
    /// Empty again (a reset machine's thread of the same index takes this ring over). The old entries stay in the array:
    /// a snapshot reads only the entries added since.
    /// </summary>
    public void Clear() => (_count, _head) = (0, 0);

    public IReadOnlyList<TraceEntry> Snapshot()
    {
        var list = new TraceEntry[_count];
        int start = (_head - _count + _ring.Length) % _ring.Length;
        for (int i = 0; i < _count; i++) list[i] = _ring[(start + i) % _ring.Length];
        return list;
    }
}

/// <summary>
/// A running 64-bit hash of the run's events, one multiply-xorshift round per word: equal hashes mean the same
/// run. Cheap enough to mix every traced event on the hot path.
/// </summary>
internal struct TraceHash
{
    private ulong _h;

    /// <summary>The hash so far.</summary>
    public readonly ulong Value => _h;

    /// <summary>Mix one value in.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Add(ulong v)
    {
        ulong h = (_h ^ v) * 0x9E3779B97F4A7C15UL;
        _h = h ^ (h >> 32);
    }
}
