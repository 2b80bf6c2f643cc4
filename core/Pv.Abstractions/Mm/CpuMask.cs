// A fixed-size CPU bitmap (struct cpumask) for up to 256 CPUs: a value type, so passing one to a
// flush or an IPI allocates nothing.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Pv.Abstractions.Mm;

/// <summary>A set of CPU numbers 0..<see cref="MaxCpus"/>-1, as the kernel's struct cpumask.</summary>
public struct CpuMask : IEquatable<CpuMask>
{
    /// <summary>The largest machine Pv simulates.</summary>
    public const int MaxCpus = 256;

    [InlineArray(4)]
    private struct Words { private ulong _w0; }

    private Words _words;

    /// <summary>The empty mask.</summary>
    public static CpuMask Empty => default;

    /// <summary>A mask of CPUs 0..<paramref name="count"/>-1 (cpu_online_mask of a machine with that many CPUs).</summary>
    public static CpuMask FirstN(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxCpus);
        var m = new CpuMask();
        for (int i = 0; i < count; i++) m.Set(i);
        return m;
    }

    /// <summary>A mask with one CPU.</summary>
    public static CpuMask Of(int cpu)
    {
        var m = new CpuMask();
        m.Set(cpu);
        return m;
    }

    /// <summary>cpumask_set_cpu.</summary>
    public void Set(int cpu) => _words[Word(cpu)] |= 1UL << (cpu & 63);

    /// <summary>cpumask_clear_cpu.</summary>
    public void Clear(int cpu) => _words[Word(cpu)] &= ~(1UL << (cpu & 63));

    /// <summary>cpumask_test_cpu.</summary>
    public readonly bool Contains(int cpu) => (_words[Word(cpu)] & (1UL << (cpu & 63))) != 0;

    /// <summary>cpumask_weight.</summary>
    public readonly int Count
    {
        get
        {
            int n = 0;
            for (int i = 0; i < 4; i++) n += BitOperations.PopCount(_words[i]);
            return n;
        }
    }

    /// <summary>cpumask_empty.</summary>
    public readonly bool IsEmpty => (_words[0] | _words[1] | _words[2] | _words[3]) == 0;

    /// <summary>This mask without <paramref name="cpu"/>.</summary>
    public readonly CpuMask Without(int cpu)
    {
        var m = this;
        m.Clear(cpu);
        return m;
    }

    /// <summary>The lowest CPU at or above <paramref name="from"/>, or -1 (cpumask_next).</summary>
    public readonly int Next(int from)
    {
        for (int w = Math.Max(from, 0) >> 6; w < 4; w++)
        {
            ulong bits = _words[w];
            if (w == from >> 6 && from > 0) bits &= ~0UL << (from & 63);
            if (bits != 0) return (w << 6) + BitOperations.TrailingZeroCount(bits);
        }
        return -1;
    }

    /// <summary>Enumerates the CPUs in ascending order (for_each_cpu), without allocating.</summary>
    public readonly Enumerator GetEnumerator() => new(this);

    /// <summary>for_each_cpu over a <see cref="CpuMask"/>.</summary>
    public struct Enumerator(CpuMask mask)
    {
        private readonly CpuMask _mask = mask;
        private int _current = -1;

        /// <summary>The current CPU.</summary>
        public readonly int Current => _current;

        /// <summary>Advances to the next CPU in the mask.</summary>
        public bool MoveNext()
        {
            if (_current >= MaxCpus - 1) return false;
            _current = _mask.Next(_current + 1);
            return _current >= 0;
        }
    }

    /// <inheritdoc/>
    public readonly bool Equals(CpuMask other) =>
        _words[0] == other._words[0] && _words[1] == other._words[1] &&
        _words[2] == other._words[2] && _words[3] == other._words[3];

    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is CpuMask m && Equals(m);

    /// <inheritdoc/>
    public override readonly int GetHashCode() => HashCode.Combine(_words[0], _words[1], _words[2], _words[3]);

    /// <summary>Equality.</summary>
    public static bool operator ==(CpuMask a, CpuMask b) => a.Equals(b);

    /// <summary>Inequality.</summary>
    public static bool operator !=(CpuMask a, CpuMask b) => !a.Equals(b);

    /// <inheritdoc/>
    public override readonly string ToString()
    {
        var parts = new List<string>();
        foreach (int cpu in this) parts.Add(cpu.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return "{" + string.Join(",", parts) + "}";
    }

    private static int Word(int cpu)
    {
        if ((uint)cpu >= MaxCpus) throw new ArgumentOutOfRangeException(nameof(cpu), cpu, $"CPU number must be 0..{MaxCpus - 1}");
        return cpu >> 6;
    }
}
