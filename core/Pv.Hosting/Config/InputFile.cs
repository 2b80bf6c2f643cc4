// Every file Pv reads as input (a scenario, plugins.json, a counterexample, a plugin assembly to hash) is
// read through here, with a cap on its size: a path that names an endless file (/dev/zero, /dev/urandom)
// or a huge one is refused after reading one byte more than the cap, never read to the end, and the error
// says which file, how large it may be, and why. A directory is refused by name too.
namespace Pv.Hosting.Config;

/// <summary>Bounded reads of input files.</summary>
public static class InputFile
{
    /// <summary>The largest scenario file, plugins.json or counterexample Pv reads: 16 MiB.</summary>
    public const int MaxTextBytes = 16 << 20;

    /// <summary>The largest plugin assembly Pv hashes and loads: 256 MiB.</summary>
    public const long MaxAssemblyBytes = 256L << 20;

    /// <summary>The bytes of <paramref name="path"/>, at most <paramref name="maxBytes"/>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The cap.</param>
    /// <exception cref="InputFileException">The file is missing, a directory, unreadable, or larger than the cap.</exception>
    public static byte[] Read(string path, int maxBytes = MaxTextBytes)
    {
        using var stream = Open(path);
        var buffer = new MemoryStream();
        ForEachChunk(stream, maxBytes, path, buffer.Write);
        return buffer.ToArray();
    }

    /// <summary>Opens <paramref name="path"/> for a bounded read through <see cref="ForEachChunk"/>.</summary>
    /// <exception cref="InputFileException">The file is missing, a directory or unreadable.</exception>
    public static Stream Open(string path)
    {
        if (Directory.Exists(path)) throw new InputFileException(path, "is a directory, expected a file");
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InputFileException(path, "file not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InputFileException(path, e.Message);
        }
    }

    /// <summary>Hands <paramref name="source"/> to <paramref name="consume"/> chunk by chunk, refusing more than <paramref name="maxBytes"/>.</summary>
    /// <exception cref="InputFileException">The file holds more than the cap, or reading it failed.</exception>
    public static void ForEachChunk(Stream source, long maxBytes, string path, Action<byte[], int, int> consume)
    {
        var chunk = new byte[1 << 16];
        long total = 0;
        try
        {
            int n;
            while ((n = source.Read(chunk, 0, chunk.Length)) > 0)
            {
                total += n;
                if (total > maxBytes) throw new InputFileException(path, $"is larger than {maxBytes:N0} bytes, the most Pv reads from such a file (an endless device such as /dev/zero?)");
                consume(chunk, 0, n);
            }
        }
        catch (IOException e)
        {
            throw new InputFileException(path, e.Message);
        }
    }
}

/// <summary>An input file cannot be read: the message names it and says why.</summary>
public sealed class InputFileException(string path, string reason) : Exception($"{path}: {reason}")
{
    /// <summary>The file as given.</summary>
    public string FilePath { get; } = path;

    /// <summary>Why, without the path.</summary>
    public string Reason { get; } = reason;
}
