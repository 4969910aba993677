//! A chat file read on several threads, with the records handed out in file
//! order and exactly as one pass would build them.
//!
//! The file is cut into chunks of about [`CHUNK_BYTES`]. Chunk `k` starts at
//! the first header of the file's shape at or after byte `k × CHUNK_BYTES`
//! (the first chunk at byte 0, with whatever precedes the first header), so
//! every record lies whole in one chunk. Threads take chunks in turn and
//! build each one's records into a buffer, with line numbers counted from
//! the chunk's start and a fresh [`Carry`]; when its turn comes, a thread
//! checks that the carry the chunk before left would have built the same
//! (the chunk's first record is in another minute and outside a repeated
//! fall-back hour), shifts the line numbers and hands its records out.
//! When the check fails, it reads the chunk again with the real carry.
//!
//! Records are built, handed to the sink and freed on the same thread: the
//! allocator is not asked to free on one thread what another allocated.
//! Memory is bounded by one chunk's records per thread.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Condvar, Mutex, PoisonError};

use spoor_normalize::{Locator, Record};

use super::message::Carry;
use super::{
    decide, header_of, read_chat, ChatContext, DateOrder, Grammar, NoMedia, Span, SurveyPart,
};
use crate::lines::LineReader;
use crate::read::{Item, Quarantined, Stop};

/// Nominal size of a chunk: big enough that the hand-over between threads
/// costs little, small enough that a chunk's records (about 600) are still
/// in the core's cache when they are handed out.
const CHUNK_BYTES: u64 = 64 << 10;

/// Files smaller than this are read in one pass: threads would cost more
/// than they save.
const PARALLEL_MIN_BYTES: u64 = 4 << 20;

/// Surveys a chat file on disk (see [`survey`]), in as many parts as there
/// are cores when it is large enough to gain from it.
pub(crate) fn survey_file(
    path: &Path,
    hint: Option<DateOrder>,
) -> io::Result<Result<Grammar, String>> {
    let (len, threads) = threads_for(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let names: Vec<&str> = name.as_deref().into_iter().collect();
    survey_in_parts(path, len, threads as u64).map(|part| decide(part, hint, &names))
}

/// The size of the file at `path` and how many threads to read it on:
/// every core when it is large enough to gain from it, else one.
fn threads_for(path: &Path) -> io::Result<(u64, usize)> {
    let len = std::fs::metadata(path)?.len();
    let threads = if len < PARALLEL_MIN_BYTES {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };
    Ok((len, threads))
}

/// The survey of `path` (`len` bytes) in `parts` parts of about equal
/// size, each on a thread of its own, merged in file order.
fn survey_in_parts(path: &Path, len: u64, parts: u64) -> io::Result<SurveyPart> {
    let part = |i: u64| -> io::Result<SurveyPart> {
        let (start, end) = (len * i / parts, len * (i + 1) / parts);
        let mut input = BufReader::with_capacity(1 << 20, File::open(path)?);
        match line_start(&mut input, start, end)? {
            Some(start) => {
                SurveyPart::read(&mut LineReader::starting_at(input, 160, start, 0), end)
            }
            // No line starts in this part.
            None => Ok(SurveyPart::default()),
        }
    };
    let surveyed: Vec<io::Result<SurveyPart>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (1..parts).map(|i| scope.spawn(move || part(i))).collect();
        let mut surveyed = vec![part(0)];
        for thread in threads {
            surveyed.push(
                thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a survey thread failed"))),
            );
        }
        surveyed
    });
    let mut whole = SurveyPart::default();
    for part in surveyed {
        whole = whole.then(part?);
    }
    Ok(whole)
}

/// Positions `input` at the first line that starts at or after `offset`
/// and returns where that is, if it is before `before`. The search stops
/// there: one line may be longer than many chunks, and is not scanned once
/// for each.
fn line_start(input: &mut BufReader<File>, offset: u64, before: u64) -> io::Result<Option<u64>> {
    let Some(mut pos) = offset.checked_sub(1) else {
        input.seek(SeekFrom::Start(0))?;
        return Ok((0 < before).then_some(0));
    };
    input.seek(SeekFrom::Start(pos))?;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() || pos >= before {
            return Ok(None);
        }
        let room = usize::try_from(before - pos).unwrap_or(usize::MAX);
        let Some(scan) = available.get(..available.len().min(room)) else {
            return Ok(None);
        };
        if let Some(i) = memchr::memchr(b'\n', scan) {
            input.consume(i + 1);
            pos += i as u64 + 1;
            return Ok((pos < before).then_some(pos));
        }
        let used = scan.len();
        input.consume(used);
        pos += used as u64;
    }
}

/// Reads a chat file on disk, in chunks on every core when it is large
/// enough to gain from it, else in one pass.
pub(crate) fn read_chat_file<E: Send>(
    path: &Path,
    grammar: &Grammar,
    context: &ChatContext<'_>,
    emit: &mut (dyn FnMut(Item) -> Result<(), E> + Send),
) -> Result<(), Stop<io::Error, E>> {
    let (len, threads) = threads_for(path).map_err(Stop::Input)?;
    if threads < 2 {
        let file = File::open(path).map_err(Stop::Input)?;
        let input = BufReader::with_capacity(1 << 20, file);
        return read_chat(input, grammar, context, &mut NoMedia, emit);
    }
    read_in_chunks(path, len, grammar, context, emit, CHUNK_BYTES, threads)
}

/// What one chunk's reading left for its turn.
struct Chunk {
    /// Offset of its first line.
    start: u64,
    items: Vec<Buffered>,
    /// Lines in the chunk.
    lines: u64,
    carry: Carry,
    /// Why reading stopped early, if it did.
    failed: Option<io::Error>,
}

impl Chunk {
    fn at(start: u64) -> Chunk {
        Chunk {
            start,
            items: Vec::new(),
            lines: 0,
            carry: Carry::default(),
            failed: None,
        }
    }

    fn failed(error: io::Error) -> Chunk {
        Chunk {
            failed: Some(error),
            ..Chunk::at(0)
        }
    }
}

enum Buffered {
    Record(Box<Record>),
    Quarantine(Box<Quarantined>),
}

/// Whose turn it is to hand out records, and what the chunks before left.
struct Turn<'e, E> {
    next: u64,
    carry: Carry,
    /// Lines before the chunk whose turn it is.
    lines: u64,
    emit: &'e mut (dyn FnMut(Item) -> Result<(), E> + Send),
    outcome: Result<(), Stop<io::Error, E>>,
}

impl<E> Turn<'_, E> {
    fn stopped(&self) -> bool {
        self.outcome.is_err()
    }
}

/// Reads `path` (`len` bytes) in chunks of about `chunk_bytes` on
/// `threads` threads.
fn read_in_chunks<E: Send>(
    path: &Path,
    len: u64,
    grammar: &Grammar,
    context: &ChatContext<'_>,
    emit: &mut (dyn FnMut(Item) -> Result<(), E> + Send),
    chunk_bytes: u64,
    threads: usize,
) -> Result<(), Stop<io::Error, E>> {
    let chunks = len.div_ceil(chunk_bytes.max(1)).max(1);
    let turn = Mutex::new(Turn {
        next: 0,
        carry: Carry::for_headers(grammar.headers()),
        lines: 0,
        emit,
        outcome: Ok(()),
    });
    let ready = Condvar::new();
    let reader = ChunkReader {
        grammar,
        context,
        chunk_bytes,
    };
    std::thread::scope(|scope| {
        for first in 0..threads.max(1) as u64 {
            let (reader, turn, ready) = (&reader, &turn, &ready);
            scope.spawn(move || {
                let _guard = StopOnPanic { turn, ready };
                // One file handle and buffer per thread, for all its chunks.
                let mut input = File::open(path).map(|f| BufReader::with_capacity(128 << 10, f));
                // The buffer too: freeing it would make the allocator
                // consolidate what the records freed.
                let mut items = Vec::new();
                let mut k = first;
                while k < chunks {
                    let mut chunk = match &mut input {
                        Ok(input) => reader.read(k, input, items),
                        Err(e) => Chunk::failed(io::Error::new(e.kind(), e.to_string())),
                    };
                    let mut turn = turn.lock().unwrap_or_else(PoisonError::into_inner);
                    while turn.next != k && !turn.stopped() {
                        turn = ready.wait(turn).unwrap_or_else(PoisonError::into_inner);
                    }
                    if turn.stopped() {
                        break;
                    }
                    let handed = match &mut input {
                        Ok(input) => reader.hand_out(k, &mut chunk, &mut turn, input),
                        Err(_) => chunk.failed.take().map_or(Ok(()), |e| Err(Stop::Input(e))),
                    };
                    items = std::mem::take(&mut chunk.items);
                    if let Err(e) = handed {
                        turn.outcome = Err(e);
                    }
                    turn.next += 1;
                    ready.notify_all();
                    k += threads as u64;
                }
            });
        }
    });
    turn.into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .outcome
}

/// Wakes the other threads if this one panics, so none waits forever for
/// its turn; the scope then passes the panic on.
struct StopOnPanic<'t, 'e, E> {
    turn: &'t Mutex<Turn<'e, E>>,
    ready: &'t Condvar,
}

impl<E> Drop for StopOnPanic<'_, '_, E> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
            if !turn.stopped() {
                turn.outcome = Err(Stop::Input(io::Error::other("a reading thread failed")));
            }
            self.ready.notify_all();
        }
    }
}

struct ChunkReader<'a, 'c> {
    grammar: &'a Grammar,
    context: &'a ChatContext<'c>,
    chunk_bytes: u64,
}

impl ChunkReader<'_, '_> {
    fn span(&self, k: u64) -> Span<'_, '_> {
        Span {
            grammar: self.grammar,
            context: self.context,
            stop_at: k.saturating_add(1).saturating_mul(self.chunk_bytes),
        }
    }

    fn cap(&self) -> usize {
        self.context.limits.max_chat_message_bytes.saturating_add(1)
    }

    /// Builds chunk `k`'s records into a buffer, from a fresh carry.
    /// `items` is an empty buffer to fill.
    fn read(&self, k: u64, input: &mut BufReader<File>, items: Vec<Buffered>) -> Chunk {
        let start = match self.start_of(k, input) {
            Ok(Some(start)) => input.seek(SeekFrom::Start(start)),
            // No record starts in it: nothing to read, nothing consulted.
            Ok(None) => {
                return Chunk {
                    items,
                    ..Chunk::at(0)
                }
            }
            Err(e) => Err(e),
        };
        let mut chunk = match start {
            Ok(start) => Chunk {
                items,
                ..Chunk::at(start)
            },
            Err(e) => return Chunk::failed(e),
        };
        let mut lines = LineReader::starting_at(input, self.cap(), chunk.start, 0);
        let items = &mut chunk.items;
        let read = self.span(k).read(
            &mut lines,
            &mut chunk.carry,
            &mut NoMedia,
            &mut |item| -> Result<(), ()> {
                match item {
                    Item::Record(record, _) => items.push(Buffered::Record(record)),
                    Item::Quarantine(q) => items.push(Buffered::Quarantine(Box::new(q))),
                    // NoMedia streams nothing.
                    Item::Stream { .. } => return Err(()),
                }
                Ok(())
            },
        );
        match read {
            Ok(last) => chunk.lines = last,
            Err(Stop::Input(e)) => chunk.failed = Some(e),
            Err(Stop::Sink(())) => {
                chunk.failed = Some(io::Error::other("a chat file streamed media"))
            }
        }
        chunk
    }

    /// Hands chunk `k` out in its turn: as built when the carry made no
    /// difference, else read again with the real carry.
    fn hand_out<E>(
        &self,
        k: u64,
        chunk: &mut Chunk,
        turn: &mut Turn<'_, E>,
        input: &mut BufReader<File>,
    ) -> Result<(), Stop<io::Error, E>> {
        if !turn.carry.same_as_fresh(&chunk.carry) {
            chunk.items.clear();
            input
                .seek(SeekFrom::Start(chunk.start))
                .map_err(Stop::Input)?;
            let mut lines = LineReader::starting_at(input, self.cap(), chunk.start, turn.lines);
            turn.lines =
                self.span(k)
                    .read(&mut lines, &mut turn.carry, &mut NoMedia, &mut *turn.emit)?;
            return Ok(());
        }
        let shift = turn.lines;
        for item in chunk.items.drain(..) {
            let item = match item {
                Buffered::Record(mut record) => {
                    shift_lines(&mut record.source.locator, shift);
                    Item::Record(record, Vec::new())
                }
                Buffered::Quarantine(mut q) => {
                    shift_lines(&mut q.locator, shift);
                    Item::Quarantine(*q)
                }
            };
            (turn.emit)(item).map_err(Stop::Sink)?;
        }
        if let Some(e) = chunk.failed.take() {
            return Err(Stop::Input(e));
        }
        turn.carry = std::mem::take(&mut turn.carry).then(std::mem::take(&mut chunk.carry));
        turn.lines += chunk.lines;
        Ok(())
    }

    /// Where chunk `k` starts: byte 0 for the first, else the first header
    /// of the file's shape at or after `k × chunk_bytes`; `None` when none
    /// starts before the next chunk's nominal start (the chunk is empty).
    /// Looking no further keeps a record of many chunks' length (a pasted
    /// file) from being scanned once per chunk it spans.
    fn start_of(&self, k: u64, input: &mut BufReader<File>) -> io::Result<Option<u64>> {
        if k == 0 {
            return Ok(Some(0));
        }
        let next = k.saturating_add(1).saturating_mul(self.chunk_bytes);
        let Some(first) = line_start(input, k.saturating_mul(self.chunk_bytes), next)? else {
            return Ok(None);
        };
        let mut lines = LineReader::starting_at(input, 160, first, 0);
        while let Some(line) = lines.next_line()? {
            if line.start >= next {
                break;
            }
            if header_of(&lines.buf, &self.grammar.shape).is_some() {
                return Ok(Some(line.start));
            }
        }
        Ok(None)
    }
}

fn shift_lines(locator: &mut Locator, by: u64) {
    if let Some(lines) = &mut locator.lines {
        lines[0] += by;
        lines[1] += by;
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use spoor_normalize::{Sha256, Zone};

    use super::*;
    use crate::read::Limits;
    use crate::whatsapp::{chat_identity, survey};

    /// Each item as comparable text: a record's canonical line, a
    /// quarantined item's every field.
    fn read_all(path: &Path, chunked: Option<(u64, usize)>) -> Vec<String> {
        let file = || BufReader::new(File::open(path).expect("fixture"));
        let grammar = survey(file(), Some(DateOrder::Dmy), &[])
            .expect("reads")
            .expect("a chat");
        let zone = Zone::get("Europe/Amsterdam").expect("zone");
        let limits = Limits {
            max_chat_message_bytes: 200,
            ..Limits::default()
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let context = ChatContext {
            format: "whatsapp/text",
            path: None,
            export_sha256: Sha256::of(b"export"),
            identity: chat_identity(&[name.as_deref().unwrap_or("")], &grammar),
            zone: &zone,
            limits: &limits,
        };
        let mut items = Vec::new();
        let mut emit = |item: Item| -> Result<(), ()> {
            items.push(match item {
                Item::Record(record, _) => {
                    String::from_utf8(record.to_canonical_line().expect("json")).expect("utf-8")
                }
                Item::Quarantine(q) => format!("{q:?}"),
                Item::Stream { .. } => "stream".to_owned(),
            });
            Ok(())
        };
        let read = match chunked {
            None => read_chat(file(), &grammar, &context, &mut NoMedia, &mut emit),
            Some((bytes, threads)) => {
                let len = std::fs::metadata(path).expect("size").len();
                read_in_chunks(path, len, &grammar, &context, &mut emit, bytes, threads)
            }
        };
        assert!(read.is_ok(), "{} read", path.display());
        items
    }

    /// Everything that carries from record to record, and chunk edges
    /// everywhere: a BOM and text before the first header, continuation
    /// lines (one starting with a date), identical messages in one minute,
    /// the autumn fall-back hour passed twice, the spring gap, invalid
    /// UTF-8 and a message over the size limit.
    fn tricky_chat(dir: &Path) -> PathBuf {
        let mut text = b"\xef\xbb\xbfkopregel zonder datum\n".to_vec();
        for minute in 0..3 {
            for _ in 0..3 {
                text.extend_from_slice(
                    format!("29-10-2023 01:5{minute} - Eva: zelfde\n").as_bytes(),
                );
            }
        }
        for (hour, minute) in [(2, 10), (2, 40), (2, 5), (2, 30), (3, 0)] {
            text.extend_from_slice(
                format!("29-10-2023 0{hour}:{minute:02} - Jan: om {hour}:{minute}\nen verder\n")
                    .as_bytes(),
            );
        }
        text.extend_from_slice(b"26-03-2023 02:30 - Eva: in het gat\n");
        text.extend_from_slice(b"27-03-2023 09:00 - Eva: kapot \xff\n");
        text.extend_from_slice(b"27-03-2023 09:00 - Eva: kapot \xff\n");
        text.extend_from_slice(b"27-03-2023 09:01 - Jan: ");
        text.extend_from_slice(&[b'x'; 300]);
        text.extend_from_slice(b"\n27-03-2023 09:01 - Jan: 12-03-2021 10:00 - geen kop\n");
        text.extend_from_slice(b"12-03-2021 om 10:00 is het overleg\n");
        text.extend_from_slice(b"27-03-2023 09:02 - Mia: laatste");
        let path = dir.join("WhatsApp-chat met Randen.txt");
        std::fs::write(&path, text).expect("write");
        path
    }

    /// The tricky chat and every chat file among the fixtures.
    fn chats(dir: &Path) -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/whatsapp");
        let mut files = vec![tricky_chat(dir)];
        for folder in std::fs::read_dir(&root).expect("fixtures") {
            for entry in std::fs::read_dir(folder.expect("entry").path()).expect("folder") {
                let path = entry.expect("entry").path();
                if path.extension().is_some_and(|e| e == "txt") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 10, "{files:?}");
        files
    }

    #[test]
    fn surveys_in_parts_decide_as_one_pass() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = chats(dir.path());
        // Dates that go back only across the middle of the file: read in
        // parts, the step back is still seen, so only d-m-y fits.
        let seam = dir.path().join("seam.txt");
        std::fs::write(
            &seam,
            "01/02/2024 10:00 - A: x\n02/02/2024 10:00 - A: y\n01/03/2024 10:00 - A: z\n",
        )
        .expect("write");
        files.push(seam.clone());
        for path in &files {
            let whole = survey(BufReader::new(File::open(path).expect("open")), None, &[])
                .expect("reads")
                .map(|g| format!("{g:?}"));
            let len = std::fs::metadata(path).expect("size").len();
            for parts in [1, 2, 3, 5, 8, 50] {
                let decided = decide(survey_in_parts(path, len, parts).expect("reads"), None, &[])
                    .map(|g| format!("{g:?}"));
                assert_eq!(decided, whole, "{} in {parts} parts", path.display());
            }
        }
        let grammar =
            decide(survey_in_parts(&seam, 72, 3).expect("reads"), None, &[]).expect("decides");
        assert_eq!(grammar.order, DateOrder::Dmy);
    }

    #[test]
    fn chunks_read_exactly_as_one_pass() {
        let dir = tempfile::tempdir().expect("tempdir");
        for path in &chats(dir.path()) {
            let whole = read_all(path, None);
            assert!(!whole.is_empty());
            for bytes in [1, 2, 7, 31, 64, 100, 257, 1000, 1 << 20] {
                for threads in [1, 2, 3] {
                    assert_eq!(
                        read_all(path, Some((bytes, threads))),
                        whole,
                        "{} in chunks of {bytes} bytes on {threads} threads",
                        path.display()
                    );
                }
            }
        }
    }
}
