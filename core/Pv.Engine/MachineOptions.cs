// The shape of a simulated machine: CPU count, paging levels, TLB and walk-cache sizes, oracle settings
// and the cost model. Everything that changes a run is here or in the scenario, so a run is reproducible
// from (options, scenario, backend, schedule).
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;

namespace Pv.Engine;

/// <summary>Options of one simulated machine.</summary>
public sealed record MachineOptions
{
    /// <summary>Number of CPUs, 1..256.</summary>
    public int Cpus { get; init; } = 2;
    /// <summary>Paging levels, 4 or 5.</summary>
    public int PagingLevels { get; init; } = 4;
    /// <summary>TLB entries per CPU.</summary>
    public int TlbEntries { get; init; } = 1024;
    /// <summary>TLB associativity.</summary>
    public int TlbWays { get; init; } = 8;
    /// <summary>Paging-structure cache entries per level per CPU.</summary>
    public int WalkCacheEntries { get; init; } = 16;
    /// <summary>Steps kept per thread for violation reports.</summary>
    public int TraceDepth { get; init; } = 32;
    /// <summary>A run stops after this many steps.</summary>
    public long MaxSteps { get; init; } = 1_000_000;
    /// <summary>O3 strict mode: flag a latent stale TLB entry at the moment an operation returns.</summary>
    public bool StrictO3 { get; init; }
    /// <summary>O5's K: permitted-address faults of one device page before it counts as a livelock.</summary>
    public int O5FaultLimit { get; init; } = 8;
    /// <summary>The cost model.</summary>
    public CostModel Cost { get; init; } = new();

    /// <summary>Throws with a clear message if an option is out of range.</summary>
    public void Validate()
    {
        if (Cpus < 1 || Cpus > CpuMask.MaxCpus) throw new ArgumentOutOfRangeException(nameof(Cpus), Cpus, $"CPUs must be 1..{CpuMask.MaxCpus}");
        if (PagingLevels is not (4 or 5)) throw new ArgumentOutOfRangeException(nameof(PagingLevels), PagingLevels, "paging levels must be 4 or 5");
        if (TlbEntries < 1) throw new ArgumentOutOfRangeException(nameof(TlbEntries), TlbEntries, "TLB entries must be at least 1");
        if (TlbWays < 1 || TlbWays > 255) throw new ArgumentOutOfRangeException(nameof(TlbWays), TlbWays, "TLB ways must be 1..255");
        if (WalkCacheEntries < 0) throw new ArgumentOutOfRangeException(nameof(WalkCacheEntries), WalkCacheEntries, "walk-cache entries must be >= 0");
        if (TraceDepth < 1) throw new ArgumentOutOfRangeException(nameof(TraceDepth), TraceDepth, "trace depth must be >= 1");
        if (MaxSteps < 1) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "max steps must be >= 1");
    }
}
