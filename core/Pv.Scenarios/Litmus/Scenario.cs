// The parsed form of a scenario file (.pvl): the machine, files and devices, the mms with their VMAs, the
// threads with their operations, and the expectation. Every element keeps where it was written, so a later
// check (the backend exists, an address lies in a VMA, a CPU index is in range) can point at it. Nothing
// here runs anything: Litmus/ScenarioCompiler turns a checked Scenario into machines.
using Pv.Abstractions.Mm;
using Pv.Engine.Oracle;

namespace Pv.Scenarios.Litmus;

/// <summary>A place in a scenario file (1-based line and column).</summary>
/// <param name="File">The file as given.</param>
/// <param name="Line">Line, from 1.</param>
/// <param name="Column">Column, from 1.</param>
public readonly record struct SourceSpan(string File, int Line, int Column)
{
    /// <inheritdoc/>
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>One problem found in a scenario file.</summary>
/// <param name="At">Where.</param>
/// <param name="Message">What is wrong and what was expected.</param>
public sealed record ScenarioDiagnostic(SourceSpan At, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{At}: {Message}";
}

/// <summary>A scenario file has problems; nothing was run.</summary>
public sealed class ScenarioException(IReadOnlyList<ScenarioDiagnostic> diagnostics)
    : Exception(string.Join(Environment.NewLine, diagnostics))
{
    /// <summary>Every problem, in file order.</summary>
    public IReadOnlyList<ScenarioDiagnostic> Diagnostics { get; } = diagnostics;
}

/// <summary>What a scenario expects.</summary>
/// <param name="Invariant">The invariant expected to break, or null for <c>clean</c>.</param>
/// <param name="At">Where the expectation was written.</param>
public sealed record Expectation(InvariantId? Invariant, SourceSpan At)
{
    /// <summary>"clean" or the invariant id.</summary>
    public string Text => Invariant?.ToString() ?? "clean";
}

/// <summary>One <c>cost</c> line: a key (an engine cost such as <c>ipiInitiator</c>, or one the backend declares) and its value.</summary>
/// <param name="Key">The key as written.</param>
/// <param name="Value">The value in the cost's unit (simulated nanoseconds, pages).</param>
/// <param name="At">Where the key was written.</param>
public sealed record CostSetting(string Key, long Value, SourceSpan At);

/// <summary>The default search of <c>pv explore</c> and <c>pv zoo</c> for this scenario.</summary>
/// <param name="Strategy">random, pct or dfs.</param>
/// <param name="Schedules">Budget of schedules.</param>
/// <param name="PctDepth">PCT bug depth.</param>
/// <param name="PreemptionBound">DFS preemption bound.</param>
public sealed record SearchDefaults(string Strategy = "pct", int Schedules = 10_000, int PctDepth = 3, int PreemptionBound = 2);

/// <summary>A file (page cache) or a device file (driver-owned PFNs, for VM_PFNMAP mappings).</summary>
/// <param name="Name">Name the scenario uses.</param>
/// <param name="IsDevice">A device: its pages are device PFNs allocated at setup.</param>
/// <param name="Pages">Pages that exist at setup (device PFNs, or page-cache pages).</param>
/// <param name="At">Where declared.</param>
public sealed record FileDecl(string Name, bool IsDevice, int Pages, SourceSpan At);

/// <summary>A VMA present at setup.</summary>
/// <param name="Start">First address.</param>
/// <param name="Length">Length in bytes (page multiple).</param>
/// <param name="Flags">VM_* flags.</param>
/// <param name="File">The backing file or device, or null for anonymous memory.</param>
/// <param name="PgOff">First file page.</param>
/// <param name="At">Where declared.</param>
public sealed record VmaDecl(ulong Start, ulong Length, VmaFlags Flags, string? File, ulong PgOff, SourceSpan At)
{
    /// <summary>One past the last address.</summary>
    public ulong End => Start + Length;
}

/// <summary>Pages present (PTEs written) at setup.</summary>
/// <param name="Start">First address.</param>
/// <param name="Length">Length in bytes.</param>
/// <param name="At">Where declared.</param>
/// <param name="ReadOnly">Map read-only and clean even in a writable VMA (a later write takes the write-protect fault).</param>
public sealed record PopulateDecl(ulong Start, ulong Length, SourceSpan At, bool ReadOnly = false);

/// <summary>An mm present at setup.</summary>
/// <param name="Name">Name the scenario uses.</param>
/// <param name="Vmas">Its VMAs.</param>
/// <param name="Populate">Ranges whose pages are mapped at setup.</param>
/// <param name="At">Where declared.</param>
public sealed record MmDecl(string Name, IReadOnlyList<VmaDecl> Vmas, IReadOnlyList<PopulateDecl> Populate, SourceSpan At);

/// <summary>One operation of a thread, as written: the keyword and its parsed arguments.</summary>
/// <param name="Kind">The operation.</param>
/// <param name="Address">First address argument (0 when none).</param>
/// <param name="Length">Length in bytes, or a page count for GUP, vmalloc, unmap-mapping-range, revoke.</param>
/// <param name="Address2">Second address (mremap's target, a file page offset).</param>
/// <param name="Flags">VM_* flags (mmap, mprotect).</param>
/// <param name="Name">A named argument: a file, a device, an mm.</param>
/// <param name="Write">A write (access, GUP).</param>
/// <param name="Addresses">Addresses of <c>speculate</c>.</param>
/// <param name="Count">speculate's walks; the repetition of any operation is <see cref="Times"/>.</param>
/// <param name="Times">How many times the operation is queued.</param>
/// <param name="At">Where written.</param>
public sealed record OpDecl(
    OpKind Kind, ulong Address, ulong Length, ulong Address2, VmaFlags Flags, string? Name, bool Write,
    IReadOnlyList<ulong> Addresses, int Count, int Times, SourceSpan At);

/// <summary>Every operation a thread can run.</summary>
public enum OpKind : byte
{
    /// <summary>A user load (faults handled).</summary>
    Read,
    /// <summary>A user store.</summary>
    Write,
    /// <summary>An instruction fetch.</summary>
    Exec,
    /// <summary><c>mmap(MAP_FIXED)</c>.</summary>
    Mmap,
    /// <summary><c>munmap</c>.</summary>
    Munmap,
    /// <summary><c>mprotect</c>.</summary>
    Mprotect,
    /// <summary><c>mremap(MREMAP_FIXED)</c>.</summary>
    Mremap,
    /// <summary><c>madvise(MADV_DONTNEED)</c>.</summary>
    MadviseDontneed,
    /// <summary><c>madvise(MADV_FREE)</c>.</summary>
    MadviseFree,
    /// <summary><c>madvise(MADV_GUARD_INSTALL)</c>.</summary>
    MadviseGuard,
    /// <summary><c>madvise(MADV_GUARD_REMOVE)</c>.</summary>
    MadviseGuardRemove,
    /// <summary><c>fork</c> (dup_mmap); the child mm is named.</summary>
    Fork,
    /// <summary><c>exit_mmap</c> of the thread's mm or a named one.</summary>
    Exit,
    /// <summary><c>get_user_pages</c>.</summary>
    Gup,
    /// <summary><c>get_user_pages_fast</c>.</summary>
    GupFast,
    /// <summary>A driver's <c>unmap_mapping_range</c> over a file.</summary>
    UnmapMappingRange,
    /// <summary>A driver revokes its device PFNs.</summary>
    Revoke,
    /// <summary><c>truncate_pagecache_range</c>: unmap a file's pages everywhere, then drop them from the page cache.</summary>
    Truncate,
    /// <summary>The reclaimer discards clean MADV_FREE pages.</summary>
    Reclaim,
    /// <summary><c>vmalloc</c> in init_mm.</summary>
    Vmalloc,
    /// <summary><c>vfree</c>.</summary>
    Vfree,
    /// <summary>Context switch to a named mm.</summary>
    SwitchMm,
    /// <summary><c>enter_lazy_tlb</c>.</summary>
    Lazy,
    /// <summary><c>local_irq_disable</c>.</summary>
    IrqOff,
    /// <summary><c>local_irq_enable</c>.</summary>
    IrqOn,
    /// <summary><c>rcu_read_lock</c>.</summary>
    RcuReadLock,
    /// <summary><c>rcu_read_unlock</c>.</summary>
    RcuReadUnlock,
    /// <summary>The CPU's hardware walks speculatively.</summary>
    Speculate,
    /// <summary>A device DMA read through the SMMU (an SVA thread).</summary>
    DmaRead,
    /// <summary>A device DMA write.</summary>
    DmaWrite,
    /// <summary><c>iommu_sva_unbind_device</c>.</summary>
    Unbind,
    /// <summary>Wait until another thread has finished all its operations.</summary>
    WaitFor,
    /// <summary>khugepaged retires the PTE table of the PMD range around an address (<c>collapse_pte_mapped_thp</c>).</summary>
    Collapse,
}

/// <summary>How CPU accesses translate.</summary>
public enum MmuKind : byte
{
    /// <summary>A hardware TLB and page walker.</summary>
    Hardware,
    /// <summary>UML: the host process's mappings are the TLB; syscalls return to user through the sync point.</summary>
    HostMappings,
}

/// <summary>A simulated thread and its operations.</summary>
/// <param name="Name">Name for reports.</param>
/// <param name="Kind">user, kernel or hardware.</param>
/// <param name="Cpu">Its CPU.</param>
/// <param name="Mm">Its mm at start, or null (a kernel thread without one).</param>
/// <param name="Ops">Operations in order.</param>
/// <param name="At">Where declared.</param>
/// <param name="CpuAt">Where the CPU index was written.</param>
/// <param name="Ats">An SVA device with an ATC (PCIe ATS).</param>
public sealed record ThreadDecl(string Name, Pv.Engine.Sched.ThreadKind Kind, int Cpu, string? Mm, IReadOnlyList<OpDecl> Ops, SourceSpan At, SourceSpan CpuAt, bool Ats = false);

/// <summary>Parameters of a generated workload (the workload form).</summary>
/// <param name="Mix">fault-heavy, munmap-heavy, mprotect-heavy, fork-exit.</param>
/// <param name="Threads">User threads (one per CPU, round robin).</param>
/// <param name="Ops">Operations per thread.</param>
/// <param name="Pages">Pages in each thread's region.</param>
/// <param name="Mms">Address spaces the threads share out.</param>
/// <param name="At">Where declared.</param>
public sealed record WorkloadDecl(WorkloadMix Mix, int Threads, int Ops, int Pages, int Mms, SourceSpan At);

/// <summary>The generated operation mixes.</summary>
public enum WorkloadMix : byte
{
    /// <summary>Mostly accesses that fault pages in, some zaps.</summary>
    FaultHeavy,
    /// <summary>munmap and re-mmap of regions while others touch them.</summary>
    MunmapHeavy,
    /// <summary>mprotect toggling while others write.</summary>
    MprotectHeavy,
    /// <summary>fork, COW writes, exit of the child.</summary>
    ForkExit,
}

/// <summary>A parsed scenario file.</summary>
public sealed record Scenario
{
    /// <summary>The file path as given.</summary>
    public required string Path { get; init; }
    /// <summary>SHA-256 of the file's bytes (lower-case hex): counterexamples and the store key on it.</summary>
    public required string Hash { get; init; }
    /// <summary>The scenario's name (the file name without extension unless given).</summary>
    public required string Name { get; init; }
    /// <summary>The backend, from plugins.json.</summary>
    public required string Backend { get; init; }
    /// <summary>Where the backend was named.</summary>
    public required SourceSpan BackendAt { get; init; }
    /// <summary>The secondary-MMU backend SVA threads translate through, or null.</summary>
    public string? Smmu { get; init; }
    /// <summary>Where the secondary-MMU backend was named.</summary>
    public SourceSpan SmmuAt { get; init; }
    /// <summary>How CPU accesses translate.</summary>
    public MmuKind Mmu { get; init; }
    /// <summary>The machine's options (cost overrides apart).</summary>
    public required Pv.Engine.MachineOptions Options { get; init; }
    /// <summary>Cost overrides in file order (a later one wins), applied over the backend's; keys checked against the backend.</summary>
    public required IReadOnlyList<CostSetting> Cost { get; init; }
    /// <summary>Allocation failures injected at setup, per allocation site.</summary>
    public required IReadOnlyDictionary<Pv.Engine.Memory.AllocSite, int> FailAlloc { get; init; }
    /// <summary>What is expected.</summary>
    public required Expectation Expect { get; init; }
    /// <summary>Default search.</summary>
    public required SearchDefaults Search { get; init; }
    /// <summary>Files and devices.</summary>
    public required IReadOnlyList<FileDecl> Files { get; init; }
    /// <summary>The mms.</summary>
    public required IReadOnlyList<MmDecl> Mms { get; init; }
    /// <summary>The threads (empty for the workload form until generated).</summary>
    public required IReadOnlyList<ThreadDecl> Threads { get; init; }
    /// <summary>The workload form's parameters, or null for a litmus scenario.</summary>
    public WorkloadDecl? Workload { get; init; }
}
