// The step trace: a ring of the last N steps per thread for violation reports, and a running hash of
// every step of the run so that two runs can be compared bit for bit. Entries hold string literals and
// numbers only, so tracing allocates nothing per step.
namespace Pv.Engine.Sched;

/// <summary>One traced event inside a step.</summary>
/// <param name="Step">The machine-wide step number.</param>
/// <param name="What">What happened (a literal, kernel terms).</param>
/// <param name="A">First operand (usually an address).</param>
/// <param name="B">Second operand (a PFN, an entry, a CPU).</param>
public readonly record struct TraceEntry(long Step, string What, ulong A, ulong B)
{
    /// <inheritdoc/>
    public override string ToString() => $"#{Step} {What} {A:x} {B:x}";
}

/// <summary>A fixed-size ring of trace entries.</summary>
internal sealed class TraceRing(int depth)
{
    private readonly TraceEntry[] _ring = new TraceEntry[Math.Max(depth, 1)];
    private int _count;
    private int _head;

    public void Add(in TraceEntry e)
    {
        _ring[_head] = e;
        _head = (_head + 1) % _ring.Length;
        if (_count < _ring.Length) _count++;
    }

    public IReadOnlyList<TraceEntry> Snapshot()
    {
        var list = new TraceEntry[_count];
        int start = (_head - _count + _ring.Length) % _ring.Length;
        for (int i = 0; i < _count; i++) list[i] = _ring[(start + i) % _ring.Length];
        return list;
    }
}

/// <summary>FNV-1a over the run's events: equal hashes mean the same run.</summary>
public struct TraceHash
{
    private ulong _h;

    /// <summary>The hash so far.</summary>
    public readonly ulong Value => _h == 0 ? 14695981039346656037UL : _h;

    /// <summary>Mix one value in.</summary>
    public void Add(ulong v)
    {
        ulong h = Value;
        for (int i = 0; i < 8; i++)
        {
            h ^= (v >> (i * 8)) & 0xff;
            h *= 1099511628211UL;
        }
        _h = h;
    }
}
