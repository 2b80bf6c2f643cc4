// Identities a plugin sees for address spaces and the kinds of memory access. A plugin never holds
// the engine's mm_struct; it names an mm by id and asks the host about it.
namespace Pv.Abstractions.Mm;

/// <summary>
/// Identifies an mm_struct. The id doubles as the ASID/PCID that tags TLB entries. <see cref="InitMm"/>
/// is the kernel's own address space (init_mm).
/// </summary>
/// <param name="Value">The id; 0 is init_mm.</param>
public readonly record struct MmId(int Value)
{
    /// <summary>init_mm: kernel mappings (vmalloc) and what a CPU switches to when it drops a lazy mm.</summary>
    public static MmId InitMm => new(0);

    /// <summary>True for init_mm.</summary>
    public bool IsInitMm => Value == 0;

    /// <inheritdoc/>
    public override string ToString() => IsInitMm ? "init_mm" : $"mm{Value}";
}

/// <summary>The kind of a memory access.</summary>
public enum AccessKind : byte
{
    /// <summary>A load.</summary>
    Read,
    /// <summary>A store.</summary>
    Write,
    /// <summary>An instruction fetch.</summary>
    Exec,
}

/// <summary>vm_area_struct flags that the engine and plugins care about (the kernel's VM_* names).</summary>
[Flags]
public enum VmaFlags : uint
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>VM_READ.</summary>
    Read = 1 << 0,
    /// <summary>VM_WRITE.</summary>
    Write = 1 << 1,
    /// <summary>VM_EXEC.</summary>
    Exec = 1 << 2,
    /// <summary>VM_SHARED.</summary>
    Shared = 1 << 3,
    /// <summary>VM_PFNMAP: raw device PFNs, no struct page.</summary>
    PfnMap = 1 << 10,
    /// <summary>VM_MIXEDMAP: a mix of struct pages and raw PFNs.</summary>
    MixedMap = 1 << 28,
    /// <summary>VM_HUGETLB.</summary>
    HugeTlb = 1 << 22,
}
