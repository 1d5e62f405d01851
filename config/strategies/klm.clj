;; KMLM sorter: alchemiser's own rendition of docs/strategies.md. Four KMLM-switcher variants share the
;; "single pops" head (overbought -> UVXY), most add "single popped" (UVXY RSI(21) > 65) and all end in the
;; "combined pop bot" and their own XLK-vs-KMLM switcher. A portfolio-mode filter holds the variant whose own
;; daily return series had the highest 5-day return volatility. Rebalance threshold 0.1.
(defsymphony
 "KMLM sorter"
 {:asset-class "EQUITIES", :rebalance-threshold 0.1}
 (group
  "KLM"
  [(filter
    (stdev-return {:window 5})
    (select-top 1)
    [(group
      "KLM 506/38"
      [(if
        (> (rsi "QQQE" {:window 10}) 79)
        [(asset "UVXY" nil)]
        [(if
          (> (rsi "VTV" {:window 10}) 79)
          [(asset "UVXY" nil)]
          [(if
            (> (rsi "VOX" {:window 10}) 79)
            [(asset "UVXY" nil)]
            [(if
              (> (rsi "TECL" {:window 10}) 79)
              [(asset "UVXY" nil)]
              [(if
                (> (rsi "VOOG" {:window 10}) 79)
                [(asset "UVXY" nil)]
                [(if
                  (> (rsi "VOOV" {:window 10}) 79)
                  [(asset "UVXY" nil)]
                  [(if
                    (> (rsi "XLP" {:window 10}) 75)
                    [(asset "UVXY" nil)]
                    [(if
                      (> (rsi "TQQQ" {:window 10}) 79)
                      [(asset "UVXY" nil)]
                      [(if
                        (> (rsi "XLY" {:window 10}) 80)
                        [(asset "UVXY" nil)]
                        [(if
                          (> (rsi "FAS" {:window 10}) 80)
                          [(asset "UVXY" nil)]
                          [(if
                            (> (rsi "SPY" {:window 10}) 80)
                            [(asset "UVXY" nil)]
                            [(if
                              (> (rsi "UVXY" {:window 21}) 65)
                              [(if
                                (> (rsi "SPY" {:window 21}) 30)
                                [(asset "VIXM" nil)]
                                [(asset "SPXL" nil)])]
                              [(if
                                (< (rsi "TQQQ" {:window 10}) 30)
                                [(asset "TECL" nil)]
                                [(if
                                  (< (rsi "SOXL" {:window 10}) 30)
                                  [(asset "SOXL" nil)]
                                  [(if
                                    (< (rsi "SPXL" {:window 10}) 30)
                                    [(asset "SPXL" nil)]
                                    [(group
                                      "KLM 506/38 switcher"
                                      [(if
                                        (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                        [(asset "FNGU" nil)]
                                        [(filter
                                          (stdev-return {:window 6})
                                          (select-bottom 1)
                                          [(asset "UUP" nil)
                                           (asset "FTLS" nil)
                                           (asset "KMLM" nil)])])])])])])])])])])])])])])])])])])])
     (group
      "KLM 1280/26"
      [(if
        (> (rsi "QQQE" {:window 10}) 79)
        [(asset "UVXY" nil)]
        [(if
          (> (rsi "VTV" {:window 10}) 79)
          [(asset "UVXY" nil)]
          [(if
            (> (rsi "VOX" {:window 10}) 79)
            [(asset "UVXY" nil)]
            [(if
              (> (rsi "TECL" {:window 10}) 79)
              [(asset "UVXY" nil)]
              [(if
                (> (rsi "VOOG" {:window 10}) 79)
                [(asset "UVXY" nil)]
                [(if
                  (> (rsi "VOOV" {:window 10}) 79)
                  [(asset "UVXY" nil)]
                  [(if
                    (> (rsi "XLP" {:window 10}) 75)
                    [(asset "UVXY" nil)]
                    [(if
                      (> (rsi "TQQQ" {:window 10}) 79)
                      [(asset "UVXY" nil)]
                      [(if
                        (> (rsi "XLY" {:window 10}) 80)
                        [(asset "UVXY" nil)]
                        [(if
                          (> (rsi "FAS" {:window 10}) 80)
                          [(asset "UVXY" nil)]
                          [(if
                            (> (rsi "SPY" {:window 10}) 80)
                            [(asset "UVXY" nil)]
                            [(if
                              (< (rsi "TQQQ" {:window 10}) 30)
                              [(asset "TECL" nil)]
                              [(if
                                (< (rsi "SOXL" {:window 10}) 30)
                                [(asset "SOXL" nil)]
                                [(if
                                  (< (rsi "SPXL" {:window 10}) 30)
                                  [(asset "SPXL" nil)]
                                  [(if
                                    (< (rsi "LABU" {:window 10}) 25)
                                    [(asset "LABU" nil)]
                                    [(group
                                      "KLM 1280/26 switcher"
                                      [(if
                                        (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                        [(filter
                                          (rsi {:window 10})
                                          (select-bottom 2)
                                          [(asset "TECL" nil)
                                           (asset "SOXL" nil)
                                           (asset "SVIX" nil)])]
                                        [(filter
                                          (rsi {:window 10})
                                          (select-top 1)
                                          [(asset "SQQQ" nil)
                                           (asset "TLT" nil)])])])])])])])])])])])])])])])])])])])
     (group
      "KLM 1200/28"
      [(if
        (> (rsi "QQQE" {:window 10}) 79)
        [(asset "UVXY" nil)]
        [(if
          (> (rsi "VTV" {:window 10}) 79)
          [(asset "UVXY" nil)]
          [(if
            (> (rsi "VOX" {:window 10}) 79)
            [(asset "UVXY" nil)]
            [(if
              (> (rsi "TECL" {:window 10}) 79)
              [(asset "UVXY" nil)]
              [(if
                (> (rsi "VOOG" {:window 10}) 79)
                [(asset "UVXY" nil)]
                [(if
                  (> (rsi "VOOV" {:window 10}) 79)
                  [(asset "UVXY" nil)]
                  [(if
                    (> (rsi "XLP" {:window 10}) 75)
                    [(asset "UVXY" nil)]
                    [(if
                      (> (rsi "TQQQ" {:window 10}) 79)
                      [(asset "UVXY" nil)]
                      [(if
                        (> (rsi "XLY" {:window 10}) 80)
                        [(asset "UVXY" nil)]
                        [(if
                          (> (rsi "FAS" {:window 10}) 80)
                          [(asset "UVXY" nil)]
                          [(if
                            (> (rsi "SPY" {:window 10}) 80)
                            [(asset "UVXY" nil)]
                            [(if
                              (> (rsi "UVXY" {:window 21}) 65)
                              [(if
                                (> (rsi "SPY" {:window 21}) 30)
                                [(asset "VIXM" nil)]
                                [(asset "SPXL" nil)])]
                              [(if
                                (< (rsi "TQQQ" {:window 10}) 30)
                                [(asset "TECL" nil)]
                                [(if
                                  (< (rsi "SOXL" {:window 10}) 30)
                                  [(asset "SOXL" nil)]
                                  [(if
                                    (< (rsi "SPXL" {:window 10}) 30)
                                    [(asset "SPXL" nil)]
                                    [(group
                                      "KLM 1200/28 switcher"
                                      [(if
                                        (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                        [(filter
                                          (rsi {:window 10})
                                          (select-bottom 1)
                                          [(asset "TECL" nil)
                                           (asset "SOXL" nil)
                                           (asset "SVIX" nil)])]
                                        [(filter
                                          (rsi {:window 10})
                                          (select-top 1)
                                          [(asset "SQQQ" nil)
                                           (asset "TLT" nil)])])])])])])])])])])])])])])])])])])])
     (group
      "KLM 520/22"
      [(if
        (> (rsi "QQQE" {:window 10}) 79)
        [(asset "UVXY" nil)]
        [(if
          (> (rsi "VTV" {:window 10}) 79)
          [(asset "UVXY" nil)]
          [(if
            (> (rsi "VOX" {:window 10}) 79)
            [(asset "UVXY" nil)]
            [(if
              (> (rsi "TECL" {:window 10}) 79)
              [(asset "UVXY" nil)]
              [(if
                (> (rsi "VOOG" {:window 10}) 79)
                [(asset "UVXY" nil)]
                [(if
                  (> (rsi "VOOV" {:window 10}) 79)
                  [(asset "UVXY" nil)]
                  [(if
                    (> (rsi "XLP" {:window 10}) 75)
                    [(asset "UVXY" nil)]
                    [(if
                      (> (rsi "TQQQ" {:window 10}) 79)
                      [(asset "UVXY" nil)]
                      [(if
                        (> (rsi "XLY" {:window 10}) 80)
                        [(asset "UVXY" nil)]
                        [(if
                          (> (rsi "FAS" {:window 10}) 80)
                          [(asset "UVXY" nil)]
                          [(if
                            (> (rsi "SPY" {:window 10}) 80)
                            [(asset "UVXY" nil)]
                            [(if
                              (> (rsi "UVXY" {:window 21}) 65)
                              [(if
                                (> (rsi "SPY" {:window 21}) 30)
                                [(asset "VIXM" nil)]
                                [(asset "SPXL" nil)])]
                              [(if
                                (< (rsi "TQQQ" {:window 10}) 30)
                                [(asset "TECL" nil)]
                                [(if
                                  (< (rsi "SOXL" {:window 10}) 30)
                                  [(asset "SOXL" nil)]
                                  [(if
                                    (< (rsi "SPXL" {:window 10}) 30)
                                    [(asset "SPXL" nil)]
                                    [(group
                                      "KLM 520/22 switcher"
                                      [(if
                                        (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                        [(filter
                                          (rsi {:window 10})
                                          (select-bottom 1)
                                          [(asset "TECL" nil)
                                           (asset "SVIX" nil)])]
                                        [(filter
                                          (stdev-return {:window 6})
                                          (select-bottom 3)
                                          [(asset "TMV" nil)
                                           (asset "TMF" nil)
                                           (asset "SVXY" nil)
                                           (asset "VIXM" nil)
                                           (asset "FTLS" nil)
                                           (asset "KMLM" nil)
                                           (asset "UUP" nil)])])])])])])])])])])])])])])])])])])])])]))
