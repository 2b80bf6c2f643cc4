// A read-only JSON tree in which every value knows its JSON path and its line and column in the file.
// System.Text.Json's JsonDocument does not keep positions, so this reads the file once with
// Utf8JsonReader. It also reports what JsonDocument accepts silently: a key repeated in one object.
using System.Text;
using System.Text.Json;

namespace Pv.Hosting.Config;

/// <summary>A JSON value with its place in the file.</summary>
internal abstract class LocatedJson(PvConfigLocation location)
{
    /// <summary>Where the value starts.</summary>
    public PvConfigLocation Location { get; } = location;

    /// <summary>"an object", "a string", ... for "expected X, found Y" messages.</summary>
    public abstract string Kind { get; }

    /// <summary>
    /// Reads <paramref name="bytes"/> (UTF-8, BOM allowed, comments allowed). A syntax error or a repeated key
    /// becomes a diagnostic; the result is null after a syntax error.
    /// </summary>
    public static LocatedJson? Parse(string file, byte[] bytes, List<PvDiagnostic> diagnostics)
    {
        var text = bytes.AsSpan();
        if (text.StartsWith(Encoding.UTF8.Preamble)) text = text[Encoding.UTF8.Preamble.Length..];
        var positions = new Positions(file, text.ToArray());
        if (text.Trim(" \t\r\n"u8).IsEmpty)
        {
            diagnostics.Add(new PvDiagnostic("the file is empty; expected a JSON object", new PvConfigLocation(file, "$", 1, 1)));
            return null;
        }
        var reader = new Utf8JsonReader(text, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            reader.Read();
            var root = ReadValue(ref reader, "$", positions, diagnostics);
            if (reader.Read())
            {
                diagnostics.Add(new PvDiagnostic("unexpected content after the root value",
                    positions.At("$", reader.TokenStartIndex)));
                return null;
            }
            return root;
        }
        catch (JsonException e)
        {
            // The reader's positions are 0-based; editors count from 1.
            int line = (int)(e.LineNumber ?? 0) + 1, column = (int)(e.BytePositionInLine ?? 0) + 1;
            diagnostics.Add(new PvDiagnostic($"not valid JSON: {JsonErrorText.OneLine(e.Message)}", new PvConfigLocation(file, "$", line, column)));
            return null;
        }
    }

    private static LocatedJson ReadValue(ref Utf8JsonReader reader, string path, Positions positions, List<PvDiagnostic> diagnostics)
    {
        var location = positions.At(path, reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var members = new List<KeyValuePair<string, LocatedJson>>();
                var seen = new Dictionary<string, PvConfigLocation>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    string name = Text(ref reader, path, positions);
                    string memberPath = MemberPath(path, name);
                    var keyLocation = positions.At(memberPath, reader.TokenStartIndex);
                    reader.Read();
                    var value = ReadValue(ref reader, memberPath, positions, diagnostics);
                    if (seen.TryGetValue(name, out var first))
                        diagnostics.Add(new PvDiagnostic($"key '{name}' appears twice in one object (first at line {first.Line})", keyLocation));
                    else
                    {
                        seen.Add(name, keyLocation);
                        members.Add(new(name, value));
                    }
                }
                return new JsonObjectValue(location, members);
            case JsonTokenType.StartArray:
                var items = new List<LocatedJson>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    items.Add(ReadValue(ref reader, $"{path}[{items.Count}]", positions, diagnostics));
                return new JsonArrayValue(location, items);
            case JsonTokenType.String:
                return new JsonScalarValue(location, JsonValueKind.String, Text(ref reader, path, positions));
            case JsonTokenType.Number:
                return new JsonScalarValue(location, JsonValueKind.Number, Encoding.UTF8.GetString(reader.ValueSpan));
            case JsonTokenType.True:
                return new JsonScalarValue(location, JsonValueKind.True, "true");
            case JsonTokenType.False:
                return new JsonScalarValue(location, JsonValueKind.False, "false");
            default:
                return new JsonScalarValue(location, JsonValueKind.Null, "null");
        }
    }

    /// <summary>
    /// The string or key at the reader. The reader checks a string's bytes and escapes only when it is decoded: invalid
    /// UTF-8, or an unpaired surrogate escape (<c>"\ud800"</c>), is no text and is reported as invalid JSON at the string.
    /// </summary>
    private static string Text(ref Utf8JsonReader reader, string path, Positions positions)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            var at = positions.At(path, reader.TokenStartIndex);
            throw new JsonException($"a string cannot be decoded: {e.Message}", path, at.Line - 1, at.Column - 1);
        }
    }

    /// <summary><c>$.name</c> for identifier-like keys, <c>$['odd key']</c> otherwise.</summary>
    private static string MemberPath(string path, string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-') && !char.IsAsciiDigit(name[0])
            ? $"{path}.{name}"
            : $"{path}['{name.Replace("'", "\\'", StringComparison.Ordinal)}']";

    /// <summary>Turns byte offsets into 1-based line and column (columns count characters, not bytes).</summary>
    private sealed class Positions(string file, byte[] text)
    {
        private readonly int[] _lineStarts = LineStarts(text);

        public PvConfigLocation At(string path, long offset)
        {
            int line = Array.BinarySearch(_lineStarts, (int)offset);
            if (line < 0) line = ~line - 1;
            int start = _lineStarts[line];
            int column = Encoding.UTF8.GetCharCount(text, start, (int)offset - start) + 1;
            return new PvConfigLocation(file, path, line + 1, column);
        }

        private static int[] LineStarts(byte[] text)
        {
            var starts = new List<int> { 0 };
            for (int i = 0; i < text.Length; i++)
                if (text[i] == (byte)'\n') starts.Add(i + 1);
            return [.. starts];
        }
    }
}

/// <summary>A JSON object; keys keep their order; a repeated key keeps its first value.</summary>
internal sealed class JsonObjectValue(PvConfigLocation location, IReadOnlyList<KeyValuePair<string, LocatedJson>> members)
    : LocatedJson(location)
{
    /// <summary>The members in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, LocatedJson>> Members { get; } = members;

    /// <inheritdoc/>
    public override string Kind => "an object";

    /// <summary>The value of <paramref name="key"/>, or null.</summary>
    public LocatedJson? this[string key] => Members.FirstOrDefault(m => m.Key == key).Value;
}

/// <summary>A JSON array.</summary>
internal sealed class JsonArrayValue(PvConfigLocation location, IReadOnlyList<LocatedJson> items) : LocatedJson(location)
{
    /// <summary>The items in order.</summary>
    public IReadOnlyList<LocatedJson> Items { get; } = items;

    /// <inheritdoc/>
    public override string Kind => "an array";
}

/// <summary>A string, number, boolean or null; <see cref="Text"/> is the string value or the literal as written.</summary>
internal sealed class JsonScalarValue(PvConfigLocation location, JsonValueKind valueKind, string text) : LocatedJson(location)
{
    /// <summary>Which scalar this is.</summary>
    public JsonValueKind ValueKind { get; } = valueKind;

    /// <summary>The string's value, the number as written, <c>true</c>, <c>false</c> or <c>null</c>.</summary>
    public string Text { get; } = text;

    /// <inheritdoc/>
    public override string Kind => ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
