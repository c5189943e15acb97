// JPEG goes through libjpeg-turbo directly (not stb_image) because it is
// 2-3x faster and can decode at reduced size; errors longjmp out of libjpeg
// into one ember::Error. PNG and BMP go through stb_image (Debian's libstb).
#include "data/decode.h"

#include <jpeglib.h>
#include <jerror.h>
#include <stb_image.h>

#include <csetjmp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "engine/error.h"

namespace ember {
namespace {

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {0};
  bool truncated = false;  // damaged data (see jpeg_emit_message)
  bool eof = false;        // ... because the file ends early
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// libjpeg only warns on a truncated file or damaged entropy-coded data and
// fills the rest with grey or garbage; here those are errors, so no damaged
// image reaches training silently. Harmless warnings (extraneous bytes
// before a marker, common in real datasets) pass, as they do in PIL.
void jpeg_emit_message(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  const int code = cinfo->err->msg_code;
  if (level < 0 && !err->truncated &&
      (code == JWRN_JPEG_EOF || code == JWRN_HUFF_BAD_CODE || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC)) {
    err->truncated = true;
    err->eof = code == JWRN_JPEG_EOF;
    (*cinfo->err->format_message)(cinfo, err->message);
  }
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& o) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_emit_message;
  Image img;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    fail("decode_image", name, ": corrupt JPEG (", err.message, ")");
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    fail("decode_image", name, ": CMYK JPEGs are not supported (convert the file to RGB)");
  }
  // Grey output from a colour JPEG goes through RGB, so it equals PIL's
  // convert("L") of the decoded image rather than the JPEG's own luma.
  const bool grey_file = cinfo.jpeg_color_space == JCS_GRAYSCALE;
  cinfo.out_color_space = o.channels == 1 && grey_file ? JCS_GRAYSCALE : JCS_RGB;
  if (o.min_height > 0 && o.min_width > 0) {
    for (unsigned denom : {8u, 4u, 2u}) {
      unsigned h = (cinfo.image_height + denom - 1) / denom, w = (cinfo.image_width + denom - 1) / denom;
      if (h >= static_cast<unsigned>(o.min_height) && w >= static_cast<unsigned>(o.min_width)) {
        cinfo.scale_num = 1;
        cinfo.scale_denom = denom;
        break;
      }
    }
  }
  jpeg_start_decompress(&cinfo);
  img = Image(static_cast<int>(cinfo.output_height), static_cast<int>(cinfo.output_width),
              static_cast<int>(cinfo.output_components));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img.row(static_cast<int>(cinfo.output_scanline));
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (err.truncated) fail("decode_image", name, err.eof ? ": truncated JPEG (" : ": corrupt JPEG data (", err.message, ")");
  return o.channels == 1 && img.channels == 3 ? convert_channels(img, 1) : img;
}

Image decode_stb(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& o,
                 ImageFormat format) {
  int w = 0, h = 0, n = 0;
  if (size > static_cast<size_t>(INT32_MAX)) fail("decode_image", name, ": file too large");
  // Load as RGB and convert to grey ourselves, so grey uses PIL's weights.
  std::unique_ptr<uint8_t, void (*)(void*)> pixels(
      stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &n, 3), stbi_image_free);
  if (!pixels) {
    fail("decode_image", name, ": corrupt or truncated ", image_format_name(format), " (stb_image: ",
         stbi_failure_reason(), ")");
  }
  Image img(h, w, 3);
  std::memcpy(img.pixels.data(), pixels.get(), img.pixels.size());
  return o.channels == 1 ? convert_channels(img, 1) : img;
}

}  // namespace

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Bmp: return "BMP";
    case ImageFormat::Gif: return "GIF";
    case ImageFormat::Webp: return "WebP";
    case ImageFormat::Tiff: return "TIFF";
    default: return "unknown";
  }
}

ImageFormat sniff_image_format(const uint8_t* d, size_t n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::Jpeg;
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::Png;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return ImageFormat::Bmp;
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return ImageFormat::Gif;
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) return ImageFormat::Webp;
  if (n >= 4 && (std::memcmp(d, "II*\0", 4) == 0 || std::memcmp(d, "MM\0*", 4) == 0)) return ImageFormat::Tiff;
  return ImageFormat::Unknown;
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  EMBER_CHECK(options.channels == 1 || options.channels == 3, "decode_image", name, ": channels must be 1 or 3, got ",
              options.channels);
  if (size == 0) fail("decode_image", name, ": the file is empty");
  ImageFormat format = sniff_image_format(data, size);
  switch (format) {
    case ImageFormat::Jpeg: return decode_jpeg(data, size, name, options);
    case ImageFormat::Png:
    case ImageFormat::Bmp: return decode_stb(data, size, name, options, format);
    case ImageFormat::Unknown:
      fail("decode_image", name, ": not an image (no JPEG, PNG or BMP signature)");
    default:
      fail("decode_image", name, ": ", image_format_name(format),
           " files are not supported (Ember decodes JPEG, PNG and BMP)");
  }
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail("read_file", path, ": is a folder, not a file");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail("read_file", path, ": cannot open (", std::strerror(errno), ")");
  std::streamoff size = f.tellg();
  if (size < 0) fail("read_file", path, ": cannot read (is it a folder?)");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size))
    fail("read_file", path, ": read failed (", std::strerror(errno), ")");
  return bytes;
}

Image read_image(const std::string& path, const DecodeOptions& options) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path, options);
}

}  // namespace ember
