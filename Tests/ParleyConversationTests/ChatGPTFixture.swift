/// A hand-written ChatGPT export (`conversations.json`) — invented content, no real user data:
/// a hidden system node, an edit (sibling user nodes), a regeneration (sibling answers), an
/// interrupted answer, an image part, code/tool content, an entry without `mapping`, a non-object.
let chatGPTExportFixture = #"""
[
  {
    "title": "Sourdough starter troubleshooting",
    "create_time": 1712345678.123456,
    "update_time": 1712349999.5,
    "conversation_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
    "id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
    "default_model_slug": "gpt-4o",
    "is_archived": false,
    "safe_urls": [],
    "current_node": "n-asst-2b",
    "mapping": {
      "root-0": { "id": "root-0", "message": null, "parent": null, "children": ["n-sys"] },
      "n-sys": {
        "id": "n-sys",
        "message": {
          "id": "n-sys", "author": { "role": "system", "name": null, "metadata": {} },
          "create_time": null, "update_time": null,
          "content": { "content_type": "text", "parts": [""] },
          "status": "finished_successfully", "end_turn": true, "weight": 0.0,
          "metadata": { "is_visually_hidden_from_conversation": true }, "recipient": "all"
        },
        "parent": "root-0", "children": ["n-user-1"]
      },
      "n-user-1": {
        "id": "n-user-1",
        "message": {
          "id": "n-user-1", "author": { "role": "user", "name": null, "metadata": {} },
          "create_time": 1712345680.25, "update_time": null,
          "content": { "content_type": "text", "parts": ["My starter smells like nail polish remover. Is it dead?"] },
          "status": "finished_successfully", "end_turn": null, "weight": 1.0,
          "metadata": { "request_id": "8a0b", "timestamp_": "absolute" }, "recipient": "all"
        },
        "parent": "n-sys", "children": ["n-asst-1"]
      },
      "n-asst-1": {
        "id": "n-asst-1",
        "message": {
          "id": "n-asst-1", "author": { "role": "assistant", "name": null, "metadata": {} },
          "create_time": 1712345690.75, "update_time": null,
          "content": { "content_type": "text", "parts": ["Not dead — hungry. An acetone smell means the yeast ran out of food. Feed it twice a day at 1:1:1."] },
          "status": "finished_successfully", "end_turn": true, "weight": 1.0,
          "metadata": { "model_slug": "gpt-4o", "finish_details": { "type": "stop", "stop_tokens": [200002] } },
          "recipient": "all"
        },
        "parent": "n-user-1", "children": ["n-user-2a", "n-user-2b"]
      },
      "n-user-2a": {
        "id": "n-user-2a",
        "message": {
          "id": "n-user-2a", "author": { "role": "user" },
          "create_time": 1712345800.0,
          "content": { "content_type": "text", "parts": ["What flour ratio should I use?"] },
          "status": "finished_successfully", "weight": 1.0, "metadata": {}, "recipient": "all"
        },
        "parent": "n-asst-1", "children": ["n-asst-2a"]
      },
      "n-asst-2a": {
        "id": "n-asst-2a",
        "message": {
          "id": "n-asst-2a", "author": { "role": "assistant" },
          "create_time": 1712345810.0,
          "content": { "content_type": "text", "parts": ["Use equal weights of flour and water; whole rye speeds things"] },
          "status": "in_progress", "end_turn": false, "weight": 1.0,
          "metadata": { "model_slug": "gpt-4o", "finish_details": { "type": "interrupted" } }, "recipient": "all"
        },
        "parent": "n-user-2a", "children": []
      },
      "n-user-2b": {
        "id": "n-user-2b",
        "message": {
          "id": "n-user-2b", "author": { "role": "user" },
          "create_time": 1712345900.0,
          "content": { "content_type": "multimodal_text", "parts": [
            { "content_type": "image_asset_pointer", "asset_pointer": "file-service://file-XYZ", "width": 640, "height": 480 },
            "Edited: which flour ratio, and how warm should the kitchen be?"
          ] },
          "status": "finished_successfully", "weight": 1.0, "metadata": {}, "recipient": "all"
        },
        "parent": "n-asst-1", "children": ["n-asst-2b", "n-asst-2c"]
      },
      "n-asst-2b": {
        "id": "n-asst-2b",
        "message": {
          "id": "n-asst-2b", "author": { "role": "assistant" },
          "create_time": 1712345910.0,
          "content": { "content_type": "text", "parts": ["1:1:1 by weight, and aim for 24–26 °C. <b>Warmer</b> means faster & sourer."] },
          "status": "finished_successfully", "end_turn": true, "weight": 1.0,
          "metadata": { "model_slug": "gpt-4o", "finish_details": { "type": "stop" } }, "recipient": "all"
        },
        "parent": "n-user-2b", "children": []
      },
      "n-asst-2c": {
        "id": "n-asst-2c",
        "message": {
          "id": "n-asst-2c", "author": { "role": "assistant" },
          "create_time": 1712345905.0,
          "content": { "content_type": "text", "parts": ["Regenerated: equal parts flour and water, around 25 degrees."] },
          "status": "finished_successfully", "end_turn": true, "weight": 1.0,
          "metadata": { "model_slug": "gpt-4o-mini" }, "recipient": "all"
        },
        "parent": "n-user-2b", "children": []
      }
    }
  },
  {
    "title": "Archived stub without mapping",
    "create_time": 1700000000.0,
    "conversation_id": "b7c8d9e0-1111-4222-8333-944455566677"
  },
  {
    "title": "Rust borrow checker",
    "create_time": 1715000000.0,
    "update_time": 1715000100.0,
    "id": "c0ffee00-aaaa-4bbb-8ccc-ddddeeeeffff",
    "current_node": "r3",
    "mapping": {
      "r0": { "id": "r0", "message": null, "parent": null, "children": ["r1"] },
      "r1": { "id": "r1", "message": { "id": "r1", "author": { "role": "user" }, "create_time": 1715000001.0,
              "content": { "content_type": "text", "parts": ["Why can't I borrow `v` mutably twice?"] },
              "status": "finished_successfully", "metadata": {} }, "parent": "r0", "children": ["r2"] },
      "r2": { "id": "r2", "message": { "id": "r2", "author": { "role": "assistant" }, "create_time": 1715000002.0,
              "content": { "content_type": "code", "language": "rust", "text": "let a = &mut v;\nlet b = &mut v; // error[E0499]" },
              "status": "finished_successfully", "metadata": { "model_slug": "o1" } }, "parent": "r1", "children": ["r3"] },
      "r3": { "id": "r3", "message": { "id": "r3", "author": { "role": "tool", "name": "python" }, "create_time": 1715000003.0,
              "content": { "content_type": "execution_output", "text": "ok" },
              "status": "finished_successfully", "metadata": {} }, "parent": "r2", "children": [] }
    }
  },
  42
]
"""#
