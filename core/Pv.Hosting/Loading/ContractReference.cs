// Reads which Pv.Abstractions a plugin assembly was compiled against (and what else it references), from its
// metadata, without loading it. The host refuses a plugin built against another major or a newer minor than PvContract.Version:
// loading it would either fail late (a missing member) or create a silent second copy of the contract.
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Pv.Abstractions;

namespace Pv.Hosting.Loading;

/// <summary>The contract version a plugin assembly references, and the compatibility rule.</summary>
public static class ContractReference
{
    /// <summary>
    /// The version of <see cref="PvContract.AssemblyName"/> that the assembly at <paramref name="path"/> references,
    /// or null if it does not reference the contract.
    /// </summary>
    /// <exception cref="BadImageFormatException">The file is not a .NET assembly.</exception>
    public static Version? Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata) throw new BadImageFormatException("the file has no .NET metadata", path);
        var metadata = pe.GetMetadataReader();
        if (!metadata.IsAssembly) throw new BadImageFormatException("the file is a .NET module, not an assembly", path);
        foreach (var handle in metadata.AssemblyReferences)
        {
            var reference = metadata.GetAssemblyReference(handle);
            if (metadata.StringComparer.Equals(reference.Name, PvContract.AssemblyName)) return reference.Version;
        }
        return null;
    }

    /// <summary>The simple names of every assembly the assembly at <paramref name="path"/> references.</summary>
    /// <exception cref="BadImageFormatException">The file is not a .NET assembly.</exception>
    public static IReadOnlyList<string> References(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata) throw new BadImageFormatException("the file has no .NET metadata", path);
        var metadata = pe.GetMetadataReader();
        return [.. metadata.AssemblyReferences.Select(h => metadata.GetString(metadata.GetAssemblyReference(h).Name))];
    }

    /// <summary>
    /// Null if a plugin compiled against <paramref name="referenced"/> runs on a host with <paramref name="host"/>
    /// (same major, same or lower minor); otherwise why not, naming both versions.
    /// </summary>
    public static string? Incompatibility(Version referenced, Version host)
    {
        if (referenced.Major != host.Major)
            return $"built against {PvContract.AssemblyName} {referenced}, another major version than the host's {host}; rebuild the plugin against {host.Major}.x";
        if (referenced.Minor > host.Minor)
            return $"built against {PvContract.AssemblyName} {referenced}, newer than the host's {host}; update Pv or build the plugin against {host.Major}.{host.Minor}";
        return null;
    }
}
