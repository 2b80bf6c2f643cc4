// A machine program: what a simulated machine holds at setup (files and devices, mms with their VMAs and
// populated pages) and what its threads run, as declarations that keep where they were written. A scenario
// file (.pvl) is parsed into these; MachineProgram loads them into a Machine. Nothing here runs anything.
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Programs;

/// <summary>A place in a scenario file (1-based line and column).</summary>
/// <param name="File">The file as given.</param>
/// <param name="Line">Line, from 1.</param>
/// <param name="Column">Column, from 1.</param>
public readonly record struct SourceSpan(string File, int Line, int Column)
{
    /// <inheritdoc/>
    public override string ToString() => $"{File}:{Line}:{Column}";
}

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
/// <param name="Label">The name its outcome goes by (<c>as NAME</c>, else <c>thread.N</c>, N counting the thread's operations from 1).</param>
/// <param name="Value">The value a <c>write</c> stores (<c>= V</c>; 1 when not given, so it differs from a fresh page's 0).</param>
/// <param name="Assert">What it must return every time it runs (<c>=&gt; OUTCOME</c>), or null.</param>
public sealed record OpDecl(
    OpKind Kind, ulong Address, ulong Length, ulong Address2, VmaFlags Flags, string? Name, bool Write,
    IReadOnlyList<ulong> Addresses, int Count, int Times, SourceSpan At, string Label = "", ulong Value = 1, OutcomeAssertion? Assert = null);

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
    /// <summary>The hypervisor deschedules a vCPU (<c>kvm_arch_vcpu_put</c>, <c>kvm_steal_time_set_preempted</c>); a host thread's.</summary>
    VcpuPreempt,
    /// <summary>The hypervisor runs a vCPU again (<c>record_steal_time</c> in <c>vcpu_enter_guest</c>); a host thread's.</summary>
    VcpuResume,
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
public sealed record ThreadDecl(string Name, ThreadKind Kind, int Cpu, string? Mm, IReadOnlyList<OpDecl> Ops, SourceSpan At, SourceSpan CpuAt, bool Ats = false);

/// <summary>The simulated virtual address layout a program's addresses must respect.</summary>
public static class AddressLayout
{
    /// <summary>First kernel address: below it, user space.</summary>
    public const ulong KernelStart = Cpu.Mmu.KernelStart;

    /// <summary>First address of the vmalloc area.</summary>
    public const ulong VmallocStart = Mm.KernelMm.VmallocStart;
}

/// <summary>
/// The sizes a machine program may ask for, checked before anything runs, so legal-looking input cannot make a
/// run unbounded: every frame and every queued operation costs host memory.
/// </summary>
public static class ProgramLimits
{
    /// <summary>Frames set up at most: file and device pages plus populated pages (2^20, 4 GiB of simulated memory).</summary>
    public const long MaxSetupFrames = 1 << 20;

    /// <summary>Operations queued at most, over every thread, counting each repetition of <c>times N</c> (2^20).</summary>
    public const long MaxOperations = 1 << 20;

    /// <summary>Pages of one workload thread's region: regions are 16 MiB apart, so at most 4096 pages.</summary>
    public const int MaxWorkloadPages = 4096;
}
