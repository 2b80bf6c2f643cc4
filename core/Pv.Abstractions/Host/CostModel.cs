// The cost figures, in simulated nanoseconds. Every figure is a default that a backend's
// "cost" section in plugins.json may override by property name. The engine charges the hardware and host
// mechanisms itself (TLB hits, walk levels, local and broadcast invalidations, IPIs sent and taken,
// hypercalls, host syscalls and stub round trips); a plugin charges through ICost only work of its own that
// no host service performs (an SMMU command batch, for example), so nothing is counted twice.
namespace Pv.Abstractions.Host;

/// <summary>Simulated costs, in nanoseconds. Property names are the keys of a backend's <c>cost</c> section.</summary>
public sealed record CostModel
{
    /// <summary>A TLB-hit memory access.</summary>
    public long TlbHit { get; init; } = 1;
    /// <summary>One level of a hardware page walk (TLB miss).</summary>
    public long WalkLevel { get; init; } = 25;
    /// <summary>Local INVLPG of one page.</summary>
    public long LocalInvlpg { get; init; } = 100;
    /// <summary>Local full (non-global) flush, before refill.</summary>
    public long LocalFullFlush { get; init; } = 50;
    /// <summary>Global flush (CR4.PGE toggle).</summary>
    public long GlobalFlush { get; init; } = 300;
    /// <summary>x86 <c>tlb_single_page_flush_ceiling</c>: above this many pages a range flush becomes a full flush.</summary>
    public long X86FlushCeilingPages { get; init; } = 33;
    /// <summary>IPI shootdown: the initiator's fixed cost.</summary>
    public long IpiInitiator { get; init; } = 700;
    /// <summary>IPI shootdown: the initiator's cost per extra target.</summary>
    public long IpiPerExtraTarget { get; init; } = 150;
    /// <summary>IPI shootdown: each target's interruption.</summary>
    public long IpiTargetInterrupt { get; init; } = 1000;
    /// <summary>One Xen hypercall (or multicall batch), hypervisor-side flush included.</summary>
    public long Hypercall { get; init; } = 1000;
    /// <summary>arm64 broadcast TLBI + DSB, per page.</summary>
    public long BroadcastTlbiPerPage { get; init; } = 350;
    /// <summary>arm64: above this many pages the flush is one per-ASID TLBI.</summary>
    public long Arm64AsidFlushPages { get; init; } = 512;
    /// <summary>SMMU TLBI command batch + CMD_SYNC.</summary>
    public long SmmuCommandSync { get; init; } = 3000;
    /// <summary>SMMU: extra for an ATC invalidation.</summary>
    public long SmmuAtcInvalidate { get; init; } = 1500;
    /// <summary>One RCU grace period (idle machine).</summary>
    public long RcuGracePeriod { get; init; } = 8_000_000;
    /// <summary>One UML host syscall (mmap/munmap/mprotect).</summary>
    public long HostSyscall { get; init; } = 600;
    /// <summary>One UML stub round trip.</summary>
    public long StubRoundTrip { get; init; } = 5000;
    /// <summary>A page fault's entry and exit.</summary>
    public long PageFault { get; init; } = 500;
}
