//! The sample files the `campuscore-fakes` binary starts with: a few folders and files of
//! several kinds in each fake (and a course with pages, modules, assignments and
//! announcements in the fake Canvas), so that browsing, searching, paging into a subfolder,
//! exporting a Google Doc and importing a PDF can all be tried.

use chrono::Duration as Days;

use crate::canvas::{
    EnrollmentState, EnrollmentType, FakeCanvas, ModuleItemContent, SubmissionState,
};
use crate::drive::{self, Content, FakeDrive};
use crate::graph::{self, FakeGraph};

const PDF: &str = "application/pdf";
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const MIB: u64 = 1024 * 1024;

/// A small but well-formed one-page PDF that says `text`, so an imported file opens.
fn pdf(text: &str) -> Content {
    let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{object}\nendobj\n", n + 1));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        out.push_str(&format!("{offset:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    Content::from(out.into_bytes())
}

/// My Drive: a course folder (a PDF, a Google Doc, a Sheet, Slides, a CSV, a subfolder with
/// twelve weekly notes), a 20 MiB recording, a shared drive and a file shared with the user.
pub fn seed_drive(drive: &FakeDrive) {
    drive.set_user("Dana Developer", "dana@campus.example");
    let course = drive.add_folder(drive::ROOT, "BIO 101 — Cell Biology");
    drive.add_file(&course, "Syllabus.pdf", PDF, pdf("BIO 101 Syllabus"));
    drive.add_native(&course, "Lecture notes", drive::DOCUMENT_MIME);
    drive.add_native(&course, "Grades", drive::SPREADSHEET_MIME);
    drive.add_native(&course, "Week 1 slides", drive::PRESENTATION_MIME);
    let csv = "sample,cells,viable\nA,1200,0.94\nB,980,0.91\nC,1430,0.97\n";
    drive.add_file(&course, "Lab results.csv", "text/csv", csv);
    let weeks = drive.add_folder(&course, "Weekly notes");
    for week in 1..=12 {
        let text = format!("Week {week}: notes for the lecture and the lab.\n");
        drive.add_file(
            &weeks,
            &format!("Week {week:02}.txt"),
            "text/plain",
            text.into_bytes(),
        );
    }
    let recording = Content::synthetic(20 * MIB, 101);
    drive.add_file(drive::ROOT, "Lecture recording.mp4", "video/mp4", recording);
    drive.add_file(drive::ROOT, "Reading list.pdf", PDF, pdf("Reading list"));
    let department = drive.add_shared_drive("Biology Department");
    drive.add_file(&department, "Lab safety.pdf", PDF, pdf("Lab safety rules"));
    drive.add_shared_file("Thesis draft.docx", DOCX, Content::synthetic(180 * 1024, 7));
}

/// OneDrive: a course folder (a PDF, a Word and an Excel file, a OneNote notebook, a
/// subfolder), a 20 MiB recording, and a colleague's folder shared with the user.
pub fn seed_graph(graph: &FakeGraph) {
    graph.set_user(
        "Dana Developer",
        Some("dana@campus.example"),
        "dana@campus.example",
    );
    let course = graph.add_folder(graph::ROOT, "CHEM 110 — General Chemistry");
    graph.add_file(&course, "Syllabus.pdf", PDF, pdf("CHEM 110 Syllabus"));
    graph.add_file(
        &course,
        "Problem set 1.docx",
        DOCX,
        Content::synthetic(64 * 1024, 11),
    );
    graph.add_file(
        &course,
        "Titration data.xlsx",
        XLSX,
        Content::synthetic(32 * 1024, 12),
    );
    graph.add_notebook(&course, "Class notebook");
    let labs = graph.add_folder(&course, "Labs");
    for lab in 1..=5 {
        let text = format!("Lab {lab}: procedure and safety notes.\n");
        graph.add_file(
            &labs,
            &format!("Lab {lab}.txt"),
            "text/plain",
            text.into_bytes(),
        );
    }
    let recording = Content::synthetic(20 * MIB, 202);
    graph.add_file(graph::ROOT, "Lecture recording.mp4", "video/mp4", recording);
    let colleague = graph.add_drive("Sam Colleague", "sam@campus.example");
    let root = graph.drive_root(&colleague);
    let shared = graph.add_folder(&root, "Shared lab protocols");
    graph.add_file(&shared, "Protocol.pdf", PDF, pdf("Shared lab protocol"));
    graph.share_with_me(&shared);
}

/// Canvas: Dana is a student in BIO 101 (course files with a Week 1 folder, pages, a module,
/// assignments — one graded — and announcements) and a TA in CHEM 110; a third course she
/// is not enrolled in stays invisible. Returns Dana's user id (the one sign-in approves).
pub fn seed_canvas(canvas: &FakeCanvas) -> i64 {
    let term = canvas.add_term("Fall 2026");
    let dana = canvas.add_user("dana", "Dana Developer");
    let sam = canvas.add_user("sam", "Sam Colleague");
    let biology = canvas.add_course("BIO 101 — Cell Biology", "BIO-101", term);
    let chemistry = canvas.add_course("CHEM 110 — General Chemistry", "CHEM-110", term);
    let physics = canvas.add_course("PHYS 201 — Mechanics", "PHYS-201", term);
    canvas.enroll(
        dana,
        biology,
        EnrollmentType::Student,
        EnrollmentState::Active,
    );
    canvas.enroll(dana, chemistry, EnrollmentType::Ta, EnrollmentState::Active);
    canvas.enroll(
        sam,
        physics,
        EnrollmentType::Student,
        EnrollmentState::Active,
    );
    canvas.set_syllabus(
        biology,
        "<h2>BIO 101</h2><p>Lectures Monday and Wednesday; labs on <b>Friday</b>.</p>",
    );
    let files = canvas.root_folder(biology);
    canvas.add_file(files, "Syllabus.pdf", PDF, pdf("BIO 101 Syllabus"));
    let week1 = canvas.add_folder(files, "Week 1");
    canvas.add_file(week1, "Cells.pdf", PDF, pdf("Cells and organelles"));
    canvas.add_file(
        week1,
        "Reading.docx",
        DOCX,
        Content::synthetic(48 * 1024, 31),
    );
    let notes = "Week 1: the cell membrane, the nucleus and the mitochondria.\n";
    canvas.add_file(week1, "Notes.txt", "text/plain", notes);
    let (_, overview) = canvas.add_page(
        biology,
        "Week 1 overview",
        "<h2>Week 1</h2><p>Read chapter 1 and <a href=\"/courses/1/files\">the slides</a>.</p>",
    );
    canvas.add_page(
        biology,
        "Lab safety",
        "<p>Wear <b>goggles</b> at all times.</p><p>No food in the lab.</p>",
    );
    let module = canvas.add_module(biology, "Week 1 — Cells");
    canvas.add_module_item(module, "Overview", ModuleItemContent::Page(overview));
    let now = canvas.now();
    let essay = canvas.add_assignment(
        biology,
        "Essay: the cell membrane",
        "<p>800 words on how the membrane chooses what to let in.</p>",
        Some(now + Days::days(5)),
        20.0,
    );
    let quiz = canvas.add_assignment(
        biology,
        "Quiz 1",
        "<p>Ten questions.</p>",
        Some(now - Days::days(2)),
        10.0,
    );
    canvas.set_submission(quiz, dana, SubmissionState::Graded, Some(9.0));
    canvas.add_module_item(module, "Essay", ModuleItemContent::Assignment(essay));
    canvas.add_announcement(
        biology,
        "Lab moved to room 204",
        "<p>This Friday's lab is in room 204.</p>",
        now - Days::days(1),
    );
    canvas.add_announcement(
        chemistry,
        "Office hours",
        "<p>Tuesdays 2–4 pm.</p>",
        now - Days::days(3),
    );
    dana
}
